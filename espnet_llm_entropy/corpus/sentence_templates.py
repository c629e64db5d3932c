"""Sentence templates and word lists of the bilingual mini corpus.

Three languages, each a list of templates with slots:

* ``zh``: Mandarin in Chinese characters, no spaces;
* ``en``: English, lowercase words, no punctuation (ESPnet scoring style);
* ``cs``: code-switched Mandarin with English words. A transcript writes the
  Chinese runs without spaces and puts one space between an English word and
  anything next to it: ``明天下午三点有个 meeting``.

Numbers are always written out (see :mod:`number_reading`). Chinese words
whose reading depends on context (调 tiao/diao, 行 xing/hang, 空 kong1/4 ...)
are avoided: espeak-ng reads them one way, a pinyin front-end may read them
another, and the audio would not match the phone labels
(POLYPHONIC_CHARACTERS lists the ones kept out). Slots cover
digits (phone numbers), dates, clock times, quantities, short commands and
everyday phrases; the combinations give tens of thousands of distinct
sentences per language, so a model must listen to get them right.
"""

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Set, Tuple

import numpy as np

from espnet_llm_entropy.corpus.number_reading import (
    en_cardinal,
    en_clock_time,
    en_digit_string,
    en_ordinal,
    zh_cardinal,
    zh_clock_time,
    zh_digit_string,
)

LANGUAGES = ("zh", "en", "cs")

# characters with several common readings, kept out of the templates
POLYPHONIC_CHARACTERS = "调行空长还重乐得地着觉便差只都为相教背朝藏几少种数处"

SlotFiller = Callable[[np.random.Generator], str]


class WordChoice:
    """A slot filler drawing one entry of ``words`` uniformly (its ``words`` tell which texts the
    slot can hold, e.g. to trace a sentence back to its template)."""

    def __init__(self, words: Sequence[str]):
        self.words = tuple(words)

    def __call__(self, rng: np.random.Generator) -> str:
        return self.words[int(rng.integers(len(self.words)))]


def pick(words: Sequence[str]) -> SlotFiller:
    """A slot filler drawing one entry of ``words`` uniformly."""
    return WordChoice(words)


# ---------------------------------------------------------------- word lists
ZH_ROOMS = ["客厅", "卧室", "厨房", "书房", "阳台", "餐厅", "浴室", "办公室"]
ZH_DEVICES = ["灯", "冰箱", "电视", "窗帘", "风扇", "音响", "电脑", "热水器"]
ZH_SWITCH = ["打开", "关掉", "关上"]
ZH_PEOPLE = ["妈妈", "爸爸", "老师", "同事", "朋友", "经理", "医生", "小王",
             "小李", "张老师", "王经理", "我哥哥"]
ZH_PLACES = ["公司", "学校", "医院", "机场", "车站", "超市", "商店", "图书馆",
             "公园", "饭店"]
ZH_PERIODS = ["早上", "上午", "中午", "下午", "晚上"]
ZH_DAYS = ["今天", "明天", "后天", "星期一", "星期二", "星期三", "星期四",
           "星期五", "星期六", "星期天"]
ZH_WEATHER = ["天气很好", "有点冷", "下雨了", "很热", "刮风了", "下雪了",
              "是晴天", "很凉快"]
ZH_FOODS = ["米饭", "面条", "饺子", "包子", "苹果", "西瓜", "鸡蛋", "蛋糕"]
ZH_DRINKS = ["咖啡", "牛奶", "绿茶", "果汁", "热水"]
ZH_CUPS = ["杯", "瓶"]
ZH_EVENTS = ["开会", "上课", "吃饭", "见面", "出发", "考试", "看医生"]
ZH_SETTINGS = ["音量", "温度", "亮度"]
ZH_GREETINGS = ["你好", "谢谢你", "早上好", "晚安", "没关系", "再见", "下午好",
                "辛苦了"]

EN_ROOMS = ["kitchen", "bedroom", "living room", "office", "garage",
            "bathroom", "hallway", "dining room"]
EN_DEVICES = ["light", "lights", "fan", "heater", "radio", "television",
              "computer", "printer"]
EN_NAMES = ["alice", "bob", "david", "emma", "lucy", "peter", "sarah", "tom",
            "mary", "james", "my mother", "my father", "the doctor",
            "the teacher"]
EN_PLACES = ["station", "airport", "library", "hospital", "office", "park",
             "bank", "hotel", "school", "market"]
EN_PERIODS = ["in the morning", "in the afternoon", "in the evening",
              "at night"]
EN_DAYS = ["today", "tomorrow", "on monday", "on tuesday", "on wednesday",
           "on thursday", "on friday", "on saturday", "on sunday"]
EN_WEATHER = ["cold", "warm", "hot", "windy", "sunny", "cloudy", "rainy",
              "very nice"]
EN_FOODS = ["apples", "eggs", "sandwiches", "cookies", "oranges",
            "tickets", "bottles of water", "cups of tea"]
EN_MONTHS = ["january", "february", "march", "april", "may", "june", "july",
             "august", "september", "october", "november", "december"]
EN_SETTINGS = ["volume", "temperature", "brightness", "timer"]
EN_TASKS = ["buy milk", "call home", "pay the bill", "send the report",
            "book a table", "water the plants", "check the mail",
            "take the medicine"]
EN_GENRES = ["jazz", "rock", "classical", "piano", "country", "dance"]
EN_PHRASES = ["thank you very much", "see you later", "good morning",
              "good night", "nice to meet you", "how are you", "excuse me",
              "have a nice day", "what time is it", "where is the station"]

# English words inside Mandarin sentences (code switching)
CS_EVENTS = ["meeting", "interview", "party", "presentation", "deadline",
             "class", "lunch", "video call"]
CS_DOCUMENTS = ["file", "email", "report", "link", "slides", "photo",
                "password", "schedule"]
CS_VERBS = ["check", "update", "review", "download", "share", "print",
            "delete", "upload"]
CS_APPS = ["email", "calendar", "camera", "music", "weather", "map",
           "message", "video"]
CS_DEVICES = ["light", "computer", "printer", "speaker", "phone", "tablet",
              "camera", "laptop"]
CS_ADJECTIVES = ["cool", "nice", "busy", "happy", "easy", "perfect",
                 "simple", "boring"]


# ---------------------------------------------------------------- numbers
def zh_phone_digits(rng: np.random.Generator) -> str:
    """Four to six digits read one by one: 一三八五."""
    count = int(rng.integers(4, 7))
    return zh_digit_string("".join(str(int(d)) for d in rng.integers(0, 10, count)))


def en_phone_digits(rng: np.random.Generator) -> str:
    """Three to five digits read one by one: "one three eight"."""
    count = int(rng.integers(3, 6))
    return en_digit_string("".join(str(int(d)) for d in rng.integers(0, 10, count)))


def _minute(rng: np.random.Generator) -> int:
    """Whole hours, quarters and half hours are frequent, any minute possible."""
    if rng.random() < 0.5:
        return int(rng.choice([0, 15, 30, 45]))
    return int(rng.integers(0, 60))


def zh_time(rng: np.random.Generator) -> str:
    return zh_clock_time(int(rng.integers(1, 13)), _minute(rng))


def en_time(rng: np.random.Generator) -> str:
    return en_clock_time(int(rng.integers(1, 13)), _minute(rng))


def zh_date(rng: np.random.Generator) -> str:
    """Month and day: 三月十二号."""
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 32))
    return f"{zh_cardinal(month)}月{zh_cardinal(day)}号"


def en_date(rng: np.random.Generator) -> str:
    """Month and day: "march twelfth"."""
    month, day = int(rng.integers(0, 12)), int(rng.integers(1, 32))
    return f"{EN_MONTHS[month]} {en_ordinal(day)}"


def zh_number(low: int, high: int) -> SlotFiller:
    return lambda rng: zh_cardinal(int(rng.integers(low, high + 1)))


def en_number(low: int, high: int) -> SlotFiller:
    return lambda rng: en_cardinal(int(rng.integers(low, high + 1)))


def zh_hour(rng: np.random.Generator) -> str:
    """An hour of the clock, 1-12, with 两 for 2 (两点)."""
    hour = int(rng.integers(1, 13))
    return "两" if hour == 2 else zh_cardinal(hour)


def zh_count(rng: np.random.Generator) -> str:
    """A small quantity before a measure word: 两 for 2."""
    value = int(rng.integers(1, 11))
    return "两" if value == 2 else zh_cardinal(value)


# ---------------------------------------------------------------- templates
@dataclass(frozen=True)
class SentenceTemplate:
    """A format string whose ``{slot}`` fields are filled by ``slots``."""

    pattern: str
    slots: Dict[str, SlotFiller]

    def fill(self, rng: np.random.Generator) -> str:
        names = re.findall(r"{(\w+)}", self.pattern)
        return self.pattern.format(**{n: self.slots[n](rng) for n in names})


def template(pattern: str, **slots: SlotFiller) -> SentenceTemplate:
    """Shorthand: ``template("call {name}", name=pick([...]))``."""
    return SentenceTemplate(pattern, slots)


ZH_TEMPLATES = [
    template("{sw}{room}的{dev}", sw=pick(ZH_SWITCH), room=pick(ZH_ROOMS), dev=pick(ZH_DEVICES)),
    template("把{setting}改成{n}", setting=pick(ZH_SETTINGS), n=zh_number(10, 99)),
    template("{day}{period}{time}{event}", day=pick(ZH_DAYS), period=pick(ZH_PERIODS),
      time=zh_time, event=pick(ZH_EVENTS)),
    template("我的号码是{digits}", digits=zh_phone_digits),
    template("请拨打{digits}", digits=zh_phone_digits),
    template("{date}是{person}的生日", date=zh_date, person=pick(ZH_PEOPLE)),
    template("{person}在{place}等你", person=pick(ZH_PEOPLE), place=pick(ZH_PLACES)),
    template("请给我{n}{cup}{drink}", n=zh_count, cup=pick(ZH_CUPS), drink=pick(ZH_DRINKS)),
    template("我想吃{food}", food=pick(ZH_FOODS)),
    template("{day}{weather}", day=pick(ZH_DAYS), weather=pick(ZH_WEATHER)),
    template("现在是{period}{time}", period=pick(ZH_PERIODS), time=zh_time),
    template("{day}{time}叫我起床", day=pick(ZH_DAYS), time=zh_time),
    template("我们{date}去{place}", date=zh_date, place=pick(ZH_PLACES)),
    template("{greeting}{person}", greeting=pick(ZH_GREETINGS), person=pick(ZH_PEOPLE)),
    template("这个要{n}块钱", n=zh_number(1, 999)),
    template("{n}号房间在{floor}楼", n=zh_number(100, 999), floor=zh_number(1, 30)),
]

EN_TEMPLATES = [
    template("turn {state} the {room} {dev}", state=pick(["on", "off"]),
      room=pick(EN_ROOMS), dev=pick(EN_DEVICES)),
    template("set the {setting} to {n}", setting=pick(EN_SETTINGS), n=en_number(1, 99)),
    template("call {name} at {time}", name=pick(EN_NAMES), time=en_time),
    template("my number is {digits}", digits=en_phone_digits),
    template("the meeting is on {date}", date=en_date),
    template("meet me at the {place} at {time}", place=pick(EN_PLACES), time=en_time),
    template("wake me up at {time} {day}", time=en_time, day=pick(EN_DAYS)),
    template("it is {weather} {day}", weather=pick(EN_WEATHER), day=pick(EN_DAYS)),
    template("i would like {n} {food}", n=en_number(2, 20), food=pick(EN_FOODS)),
    template("remind me to {task} {day}", task=pick(EN_TASKS), day=pick(EN_DAYS)),
    template("play some {genre} music", genre=pick(EN_GENRES)),
    template("{phrase} {name}", phrase=pick(EN_PHRASES), name=pick(EN_NAMES)),
    template("the train leaves at {time} {period}", time=en_time, period=pick(EN_PERIODS)),
    template("her birthday is {date}", date=en_date),
    template("room {n} is on floor {floor}", n=en_number(100, 999), floor=en_number(1, 30)),
    template("it costs {n} dollars", n=en_number(1, 999)),
]

CS_TEMPLATES = [
    template("{day}{time}有个{event}", day=pick(ZH_DAYS), time=zh_time, event=pick(CS_EVENTS)),
    template("把这个{doc}发给{person}", doc=pick(CS_DOCUMENTS), person=pick(ZH_PEOPLE)),
    template("我们{day}要{verb}一下{doc}", day=pick(ZH_DAYS), verb=pick(CS_VERBS),
      doc=pick(CS_DOCUMENTS)),
    template("请打开{app}", app=pick(CS_APPS)),
    template("帮我{sw}{room}的{dev}", sw=pick(ZH_SWITCH), room=pick(ZH_ROOMS), dev=pick(CS_DEVICES)),
    template("{dev}的密码是{digits}", dev=pick(CS_DEVICES), digits=zh_phone_digits),
    template("{event}改到{date}", event=pick(CS_EVENTS), date=zh_date),
    template("{person}的{dev}坏了", person=pick(ZH_PEOPLE), dev=pick(CS_DEVICES)),
    template("这个想法很{adj}", adj=pick(CS_ADJECTIVES)),
    template("我{day}很{adj}", day=pick(ZH_DAYS), adj=pick(CS_ADJECTIVES)),
    template("{n}点以前{verb}这个{doc}", n=zh_hour,
      verb=pick(CS_VERBS), doc=pick(CS_DOCUMENTS)),
    template("在{place}开{event}", place=pick(ZH_PLACES), event=pick(CS_EVENTS)),
    template("我买了{n}个{dev}", n=zh_count, dev=pick(CS_DEVICES)),
    template("用{app}给{person}发消息", app=pick(CS_APPS), person=pick(ZH_PEOPLE)),
]

TEMPLATES: Dict[str, List[SentenceTemplate]] = {
    "zh": ZH_TEMPLATES,
    "en": EN_TEMPLATES,
    "cs": CS_TEMPLATES,
}

# ---------------------------------------------------------------- text form
_RUN = re.compile(r"[A-Za-z][A-Za-z' ]*[A-Za-z]|[A-Za-z]|[^A-Za-z\s]+")


def split_language_runs(text: str) -> List[Tuple[str, str]]:
    """Split a transcript into runs of one script.

    Args:
        text: a transcript such as ``明天 meeting 改到三月``.

    Returns:
        ``[("zh", "明天"), ("en", "meeting"), ("zh", "改到三月")]``: English
        runs keep their single inner spaces, Chinese runs have none.
    """
    runs: List[Tuple[str, str]] = []
    for match in _RUN.finditer(text):
        chunk = match.group(0).strip()
        lang = "en" if chunk[0].isascii() and chunk[0].isalpha() else "zh"
        chunk = "".join(chunk.split()) if lang == "zh" else " ".join(chunk.split())
        if runs and runs[-1][0] == lang:
            joiner = " " if lang == "en" else ""
            runs[-1] = (lang, runs[-1][1] + joiner + chunk)
        else:
            runs.append((lang, chunk))
    return runs


def normalize_transcript(text: str) -> str:
    """Canonical spacing: no spaces inside Chinese runs, single spaces
    between English words and around English runs."""
    return " ".join(chunk for _, chunk in split_language_runs(text))


def spoken_length(text: str) -> int:
    """Rough spoken length: Chinese characters plus two per English word."""
    total = 0
    for lang, chunk in split_language_runs(text):
        total += len(chunk) if lang == "zh" else 2 * len(chunk.split())
    return total


# Longest sentence kept, in :func:`spoken_length` units. At espeak-ng's
# speeds used here one unit lasts about 0.2-0.3 s, so sentences stay under
# about 4 s.
MAX_SPOKEN_LENGTH = {"zh": 13, "en": 16, "cs": 13}
MAX_CONSECUTIVE_FAILURES = 2000


def generate_sentences(
    rng: np.random.Generator, language: str, count: int, exclude: Set[str]
) -> List[str]:
    """Draw ``count`` distinct transcripts of one language.

    Args:
        rng: the random generator (the only source of randomness).
        language: "zh", "en" or "cs".
        count: how many sentences.
        exclude: transcripts that must not be drawn (e.g. those of another
            split); the new ones are added to it.

    Returns:
        A list of ``count`` normalized transcripts, all distinct and absent
        from the ``exclude`` given on entry.

    Raises:
        ValueError: unknown language, or the template space cannot supply
            ``count`` new sentences.
    """
    if language not in TEMPLATES:
        raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
    templates = TEMPLATES[language]
    out: List[str] = []
    failures = 0  # consecutive draws that gave nothing new
    while len(out) < count:
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise ValueError(
                f"could only draw {len(out)} of {count} distinct {language!r} "
                f"sentences ({MAX_CONSECUTIVE_FAILURES} draws in a row gave no new "
                "one); ask for fewer utterances"
            )
        template = templates[int(rng.integers(len(templates)))]
        text = normalize_transcript(template.fill(rng))
        if text in exclude or spoken_length(text) > MAX_SPOKEN_LENGTH[language]:
            failures += 1
            continue
        failures = 0
        exclude.add(text)
        out.append(text)
    return out
