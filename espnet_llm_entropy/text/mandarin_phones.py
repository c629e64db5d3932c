"""Mandarin Chinese characters -> pinyin initials and tonal finals (pypinyin).

Conventions (what a Mandarin phone sequence looks like):

* Each syllable gives its initial (``zh``, ``n``, ...) and its final with the
  tone digit (``ong1``, ``ao3``), from ``pypinyin.pinyin`` with
  ``Style.INITIALS`` and ``Style.FINALS_TONE3``, ``strict=True`` and
  ``neutral_tone_with_five=True``: 你好 -> ``n i3 h ao3``, 中国 ->
  ``zh ong1 g uo2``.
* Zero-initial syllables (written with y/w) give only their final, as in
  strict pinyin analysis: 月 -> ``ve4``, 玩 -> ``uan2``, 一 -> ``i1``.
  ü is written ``v`` (去 -> ``q v4``, 女 -> ``n v3``); the "empty" i after
  z/c/s/zh/ch/sh/r is the final ``i`` (十 -> ``sh i2``), told apart by the
  initial; iu/ui/un appear in their full forms ``iou``, ``uei``, ``uen``.
* Neutral tone is tone 5: 的 -> ``d e5``, 儿子 -> ``er2 z i5``. pypinyin
  0.44's dictionary marks the neutral tone of particles and suffixes (的 了
  们 么 吧, 子 in 桌子) but gives full tones to common words whose second
  syllable is neutral in standard Mandarin (妈妈 ``m a1 m a1``); the words
  of :data:`NEUTRAL_SECOND_SYLLABLE` (reduplicated kinship terms, 谢谢, 东西
  "thing", 朋友, 衣服 ...) therefore get tone 5 on their second syllable
  wherever they occur: 妈妈 -> ``m a1 m a5``, 东西 -> ``d ong1 x i5``.
* Tones are pypinyin's dictionary tones. No tone-sandhi rules are applied on
  top (third-tone sandhi, 不 changes); pypinyin's phrase dictionary already
  records some changed readings of 一 (一个 -> ``i2 g e4``, 一点 -> ``i4``),
  and those are kept as they are.
* Erhua: a 儿 that r-colours the syllable before it (一点儿, 哪儿, 玩儿)
  becomes the separate phone ``er5``; a 儿 that is a full syllable keeps
  pypinyin's reading ``er2`` (儿子, 女儿, 婴儿, and a 儿 that starts a run of
  characters). The rule: 儿 is erhua when a Chinese character precedes it,
  that character is not in :data:`FULL_ER_AFTER` (女儿, 婴儿, 孤儿 ...) and
  the character after it is not in :data:`FULL_ER_BEFORE` (儿子, 儿童 ...).
* Chinese numerals written as characters are ordinary characters here;
  Arabic digits are rewritten to characters before this step
  (:mod:`espnet_llm_entropy.text.mandarin_numbers`).
* A character without a pinyin reading is reported as unknown and leaves
  the placeholder ``<unk>`` at its place in the phones.
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

ERHUA_PHONE = "er5"
UNK_PLACEHOLDER = "<unk>"
# 儿 after these characters is a full syllable (女儿, 婴儿, 孤儿, 幼儿 ...).
FULL_ER_AFTER = frozenset("女婴孤幼健胎患宠男少育托乳弃生侄犬")
# 儿 before these characters starts a word in which it is a full syllable.
FULL_ER_BEFORE = frozenset("子童女科歌时媳孙戏化郎")
# Two-character words whose second syllable is neutral (Xiandai Hanyu Cidian
# 轻声 readings) and which pypinyin 0.44 reads with a full tone. Matched as
# substrings, so 东西 is always "thing" (dōngxi), never "east-west".
NEUTRAL_SECOND_SYLLABLE = frozenset(
    "妈妈 爸爸 哥哥 姐姐 弟弟 妹妹 爷爷 奶奶 姥姥 叔叔 舅舅 姑姑 婆婆 公公 伯伯 "
    "谢谢 东西 朋友 先生 衣服 事情 时候 意思 喜欢 告诉 认识 舒服 漂亮 清楚 麻烦 "
    "地方 窗户 豆腐 耳朵 眼睛 消息 休息 聪明 脑袋 石头 木头 骨头 馒头 枕头 舌头 "
    "客气 便宜 明白".split()
)
_FINAL_RE = re.compile(r"^[a-z]+[1-5]$")
_INITIALS = frozenset("b p m f d t n l g k h j q x zh ch sh r z c s".split())
DEFAULT_CACHE_SIZE = 100_000


class MandarinPhonemizer:
    """Convert a run of Chinese characters to initials and tonal finals.

    Results are cached per run of characters (the cache is not pickled).

    Args:
        cache_size: how many distinct runs to remember; 0 disables caching.
    """

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE):
        self.cache_size = cache_size
        self._cache: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {}

    def __getstate__(self):
        return {"cache_size": self.cache_size}

    def __setstate__(self, state):
        self.__init__(**state)

    def __call__(self, han: str) -> Tuple[List[str], List[str]]:
        """Phones of a run of Chinese characters.

        Args:
            han: Chinese characters only (no spaces, digits or punctuation).

        Returns:
            (phones, unknown): the phone sequence, with ``<unk>`` where a
            character has no pinyin reading, and those characters.
        """
        cached = self._cache.get(han)
        if cached is None:
            phones, unknown = self._convert(han)
            cached = (tuple(phones), tuple(unknown))
            if self.cache_size > 0:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[han] = cached
        return list(cached[0]), list(cached[1])

    @staticmethod
    def _is_erhua(han: str, index: int) -> bool:
        """Whether the 儿 at ``han[index]`` r-colours the previous syllable."""
        if index == 0 or han[index - 1] in FULL_ER_AFTER:
            return False
        return not (index + 1 < len(han) and han[index + 1] in FULL_ER_BEFORE)

    def _convert(self, han: str) -> Tuple[List[str], List[str]]:
        from pypinyin import Style, pinyin

        initials = pinyin(han, style=Style.INITIALS, strict=True)
        finals = pinyin(han, style=Style.FINALS_TONE3, strict=True, neutral_tone_with_five=True)
        if len(initials) != len(han) or len(finals) != len(han):
            # pypinyin keeps characters it cannot read together in one item;
            # fall back to one call per character to keep the alignment.
            initials = [pinyin(c, style=Style.INITIALS, strict=True)[0] for c in han]
            finals = [
                pinyin(c, style=Style.FINALS_TONE3, strict=True, neutral_tone_with_five=True)[0]
                for c in han
            ]
        neutral = {i + 1 for i in range(len(han) - 1) if han[i : i + 2] in NEUTRAL_SECOND_SYLLABLE}
        phones: List[str] = []
        unknown: List[str] = []
        for index, (char, initial, final) in enumerate(zip(han, initials, finals)):
            initial, final = initial[0], final[0]
            if not _FINAL_RE.match(final) or (initial and initial not in _INITIALS):
                unknown.append(char)
                phones.append(UNK_PLACEHOLDER)
                continue
            if index in neutral:
                final = final[:-1] + "5"
            if char == "儿" and final.startswith("er") and self._is_erhua(han, index):
                phones.append(ERHUA_PHONE)
                continue
            if initial:
                phones.append(initial)
            phones.append(final)
        return phones, unknown
