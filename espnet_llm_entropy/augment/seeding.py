"""Per-utterance random generators that do not depend on loading order.

ESPnet's preprocessors are called as ``preprocess(uid, data)`` inside
data-loader workers, whose order and count vary between runs. Seeding a
generator from (seed, epoch, utterance id) makes an utterance's augmentation
the same whatever worker handles it, and different from epoch to epoch.
Python's ``hash()`` of a string changes between processes, so the id is
hashed with CRC-32 instead.
"""

from __future__ import annotations

import zlib

import numpy as np


def utterance_rng(seed: int, uid: str, epoch: int = 0) -> np.random.Generator:
    """A ``numpy`` generator determined by ``seed``, ``epoch`` and the utterance id.

    Args:
        seed: the run's seed (e.g. ESPnet's ``--seed``).
        uid: utterance id.
        epoch: training epoch (pass it where known, so each epoch differs).

    Returns:
        a fresh ``numpy.random.Generator``.
    """
    for name, value in (("seed", seed), ("epoch", epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
    key = zlib.crc32(uid.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), key]))
