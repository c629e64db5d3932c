"""The bundled bilingual mini corpus: synthetic Mandarin, English and
code-switched speech (espeak-ng), a non-speech test set, a noise list and,
when ESPnet's mini_an4 archive is at hand, its real AN4 speech.

Entry points: :func:`build_mini_corpus` with :class:`MiniCorpusConfig`, and
``python -m espnet_llm_entropy.bin.make_mini_corpus``.
"""

from espnet_llm_entropy.corpus.corpus_config import CorpusSummary, MiniCorpusConfig, SplitSummary
from espnet_llm_entropy.corpus.espeak_synthesis import EspeakNotFoundError
from espnet_llm_entropy.corpus.mini_corpus_builder import MANIFEST_NAME, build_mini_corpus

__all__ = [
    "CorpusSummary",
    "EspeakNotFoundError",
    "MANIFEST_NAME",
    "MiniCorpusConfig",
    "SplitSummary",
    "build_mini_corpus",
]
