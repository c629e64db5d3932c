"""Plan the synthetic speech splits: who says what, how, into which file.

All randomness is drawn here, in the main process, from streams derived from
the seed; rendering (:func:`render_utterance`) is then a pure function of
the plan, so parallel workers cannot change the output.

Split design:

* sentences: test is drawn first, then dev (excluding test sentences), then
  train (excluding both): no dev or test transcript occurs in train, and
  the test set does not change when ``num_train`` or ``num_dev`` does;
* speakers: the first ``num_speakers - num_heldout_speakers`` speakers
  appear in every split; held-out speakers alternate between test and dev
  and never occur in train;
* languages: utterances are spread evenly over the configured languages.
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from espnet_llm_entropy.corpus.corpus_config import SPEECH_SPLITS, MiniCorpusConfig
from espnet_llm_entropy.corpus.espeak_synthesis import MANDARIN_VOICE, UtterancePlan
from espnet_llm_entropy.corpus.sentence_templates import generate_sentences, split_language_runs
from espnet_llm_entropy.corpus.speaker_profiles import SpeakerProfile, draw_prosody, make_speakers

# independent random streams per purpose: default_rng([seed, code])
STREAM_CODES = {"speakers": 0, "test": 1, "dev": 2, "train": 3, "nonspeech": 4, "noise": 5,
                "nonspeech_dev": 6, "nonspeech_other": 7}
GAP_RANGE_S = (0.08, 0.18)
PAD_RANGE_S = (0.05, 0.30)
PEAK_RANGE_DBFS = (-9.0, -2.0)


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The random generator of one purpose (see STREAM_CODES)."""
    return np.random.default_rng([seed, STREAM_CODES[purpose]])


@dataclass(frozen=True)
class PlannedUtterance:
    """A speech utterance: its data-dir fields and its rendering plan."""

    split: str
    utt_id: str
    speaker: str
    language: str
    text: str
    plan: UtterancePlan


def split_speakers(config: MiniCorpusConfig) -> Tuple[List[SpeakerProfile], Dict[str, List[SpeakerProfile]]]:
    """All speakers and the speakers of each split."""
    speakers = make_speakers(stream(config.seed, "speakers"), config.num_speakers)
    n_seen = config.num_speakers - config.num_heldout_speakers
    seen, heldout = speakers[:n_seen], speakers[n_seen:]
    # held-out speakers first: a split smaller than its speaker list still
    # contains them (utterances are dealt to speakers round-robin)
    return speakers, {
        "train": seen,
        "test": heldout[0::2] + seen,
        "dev": heldout[1::2] + seen,
    }


def voice_runs(text: str, language: str, speaker: SpeakerProfile) -> Tuple[Tuple[str, str], ...]:
    """(voice, text) runs for espeak-ng: Chinese with the Mandarin voice,
    English with the speaker's English voice."""
    if language == "en":
        return ((f"{speaker.english_voice}+{speaker.variant}", text),)
    voices = {"zh": f"{MANDARIN_VOICE}+{speaker.variant}",
              "en": f"{speaker.english_voice}+{speaker.variant}"}
    return tuple((voices[lang], chunk) for lang, chunk in split_language_runs(text))


def _plan_split(
    config: MiniCorpusConfig,
    split: str,
    count: int,
    speakers: Sequence[SpeakerProfile],
    used_sentences: Set[str],
) -> List[PlannedUtterance]:
    rng = stream(config.seed, split)
    languages = [config.languages[i % len(config.languages)] for i in range(count)]
    who = [speakers[i % len(speakers)] for i in range(count)]
    rng.shuffle(languages)
    rng.shuffle(who)
    sentences = {
        lang: generate_sentences(rng, lang, languages.count(lang), used_sentences)
        for lang in config.languages
    }
    out = []
    for index, (lang, speaker) in enumerate(zip(languages, who)):
        text = sentences[lang].pop()
        utt_id = f"{speaker.speaker_id}-{split}-{lang}-{index:05d}"
        pitch, speed = draw_prosody(rng, speaker)
        plan = UtterancePlan(
            utt_id=utt_id,
            runs=voice_runs(text, lang, speaker),
            pitch=pitch,
            speed=speed,
            gap_s=float(rng.uniform(*GAP_RANGE_S)),
            pad_before_s=float(rng.uniform(*PAD_RANGE_S)),
            pad_after_s=float(rng.uniform(*PAD_RANGE_S)),
            peak_dbfs=float(rng.uniform(*PEAK_RANGE_DBFS)),
        )
        out.append(PlannedUtterance(split, utt_id, speaker.speaker_id, lang, text, plan))
    return out


def plan_speech_splits(config: MiniCorpusConfig) -> Dict[str, List[PlannedUtterance]]:
    """Plan train/dev/test.

    Args:
        config: validated options.

    Returns:
        {split: [PlannedUtterance, ...]} for "train", "dev", "test".
    """
    _, per_split = split_speakers(config)
    counts = {"train": config.num_train, "dev": config.num_dev, "test": config.num_test}
    used: Set[str] = set()
    planned = {}
    for split in ("test", "dev", "train"):
        planned[split] = _plan_split(config, split, counts[split], per_split[split], used)
    return {split: planned[split] for split in SPEECH_SPLITS}
