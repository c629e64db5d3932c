"""One policy for transcript symbols the phone front-end cannot read.

Training (``--phonemizer_conf on_unknown=...``, see
:mod:`espnet_llm_entropy.tasks.preprocessor` and
:mod:`espnet_llm_entropy.tasks.training_data_check`) and
``python -m espnet_llm_entropy.bin.text_to_phones --on_unknown ...`` read
transcripts through the same function, :func:`read_transcript`, with the
same choices:

* ``error`` (default): stop, naming the utterance (and the file and line
  where there is one) and the unreadable symbols;
* ``skip``: leave the whole utterance out (counted and logged);
* ``drop``: leave the unreadable symbols out and keep the rest of the
  transcript (counted and logged);
* ``unk``: write each unreadable symbol as ``<unk>`` (counted and logged).

Unreadable means what the readers report as unknown: other scripts
(Cyrillic, kana ...), symbols and emoji. Whatever the policy, a transcript
left with no units at all is never a training target: training skips it,
``text_to_phones`` refuses it (unless ``--allow_empty``).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Counter, Dict, List, Mapping, Optional

POLICIES = ("error", "skip", "drop", "unk")
DEFAULT_POLICY = "error"
#: the readers' own ``on_unknown`` value under each policy
READER_MODE = {"error": "drop", "skip": "drop", "drop": "drop", "unk": "unk"}


def check_policy(policy: str, option: str = "on_unknown") -> str:
    """``policy`` if it is one of :data:`POLICIES`, else ValueError naming ``option``."""
    if policy not in POLICIES:
        raise ValueError(f"{option}={policy!r}: expected one of {POLICIES} (default {DEFAULT_POLICY!r})")
    return policy


class UnknownSymbolsError(ValueError):
    """A transcript has symbols the front-end cannot read and the policy is ``error``.

    Attributes:
        utt_id: the utterance.
        symbols: the unreadable symbols, in text order.
    """

    def __init__(self, utt_id: str, symbols: List[str], where: Optional[str] = None,
                 option: str = "on_unknown"):
        self.utt_id = utt_id
        self.symbols = list(symbols)
        shown = list(dict.fromkeys(symbols))
        prefix = f"{where}: " if where else ""
        sep = " " if option.startswith("--") and " " not in option else "="
        super().__init__(
            f"{prefix}utterance {utt_id!r}: cannot read {len(symbols)} symbol(s) {shown[:10]!r}; "
            "expected Chinese characters, English words, digits or punctuation. Fix the transcript, "
            f"or choose {option}{sep}skip (leave such utterances out), {option}{sep}drop (leave the symbols "
            f"out) or {option}{sep}unk (write them as <unk>)"
        )


@dataclass
class TranscriptUnits:
    """The units of one transcript under a policy.

    Attributes:
        units: phones (or characters) to train on; empty when skipped.
        unknown: the unreadable symbols found, in text order.
        skipped: True when the policy ``skip`` leaves the utterance out.
    """

    units: List[str]
    unknown: List[str]
    skipped: bool = False


def read_transcript(reader, policy: str, utt_id: str, transcript: str, where: Optional[str] = None,
                    option: str = "on_unknown") -> TranscriptUnits:
    """Read ``transcript`` with ``reader`` and apply ``policy`` to what it cannot read.

    Args:
        reader: a phonemizer or character reader built with
            ``on_unknown=READER_MODE[policy]`` (``reader.phonemize(text)``
            returns ``.phones`` and ``.unknown``).
        policy: one of :data:`POLICIES`.
        utt_id: the utterance id (for the error message).
        transcript: the text.
        where: ``file:line`` for the error message, if known.
        option: how the user spells the option (for the error message).

    Raises:
        UnknownSymbolsError: policy ``error`` and unreadable symbols.
    """
    result = reader.phonemize(transcript)
    if not result.unknown:
        return TranscriptUnits(list(result.phones), [])
    if policy == "error":
        raise UnknownSymbolsError(utt_id, result.unknown, where, option)
    if policy == "skip":
        return TranscriptUnits([], list(result.unknown), skipped=True)
    return TranscriptUnits(list(result.phones), list(result.unknown))


@dataclass
class UnknownSymbolTally:
    """Counts of what a policy did, for one summary line.

    Attributes:
        policy: the policy applied.
        symbols: count of each unreadable symbol.
        utterances: utterances that had unreadable symbols.
        skipped: ids of utterances left out (policy ``skip``).
    """

    policy: str
    symbols: Counter[str] = field(default_factory=collections.Counter)
    utterances: int = 0
    skipped: List[str] = field(default_factory=list)

    def add(self, utt_id: str, read: TranscriptUnits) -> None:
        """Count one transcript's outcome."""
        if read.unknown:
            self.symbols.update(read.unknown)
            self.utterances += 1
        if read.skipped:
            self.skipped.append(utt_id)

    @property
    def total(self) -> int:
        """Total count of unreadable symbols."""
        return sum(self.symbols.values())

    def summary(self) -> Optional[str]:
        """One line describing what happened (None when nothing was unreadable)."""
        if not self.utterances:
            return None
        action = {"skip": f"{len(self.skipped)} utterance(s) left out",
                  "drop": "the symbols left out", "unk": "the symbols written as <unk>"}.get(self.policy, "")
        return (f"on_unknown={self.policy}: {self.total} unreadable symbol(s) in {self.utterances} "
                f"utterance(s), {action}: {dict(self.symbols.most_common(10))}")


def reader_with_policy(conf: Optional[Mapping] = None, option: str = "--phonemizer_conf on_unknown"):
    """The transcript reader ``--phonemizer_conf`` describes, and its unknown-symbol policy.

    Args:
        conf: ``unit`` and the reader's keyword arguments (see
            :func:`~espnet_llm_entropy.text.character_units.build_unit_reader`);
            ``on_unknown`` is the policy here (default ``error``).
        option: how the user spells the option (for errors).

    Returns:
        (reader, policy): the reader is built with ``READER_MODE[policy]``.
    """
    from espnet_llm_entropy.text.character_units import build_unit_reader

    options: Dict = dict(conf or {})
    policy = check_policy(options.pop("on_unknown", DEFAULT_POLICY), option)
    options["on_unknown"] = READER_MODE[policy]
    return build_unit_reader(options), policy
