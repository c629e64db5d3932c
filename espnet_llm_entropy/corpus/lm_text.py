"""Text-only LM data drawn from the mini corpus' own sentence templates.

A real LLM has read far more text than any speech corpus holds; that prior
is what lets it share the work of recognition with the encoder. The tiny
LLM of the demo and the mini recipe gets the same kind of prior from the
corpus' templates: :func:`sample_lm_sentences` draws sentences in every
language (repeats allowed, as in real text) and never emits one of the
held-out (dev/test) transcripts, so the LLM has not seen a test sentence.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence, Set

import numpy as np

from espnet_llm_entropy.corpus.sentence_templates import (
    LANGUAGES,
    MAX_CONSECUTIVE_FAILURES,
    MAX_SPOKEN_LENGTH,
    TEMPLATES,
    normalize_transcript,
    spoken_length,
)

#: stream name for :func:`sample_lm_sentences` (independent of the speech splits' streams)
LM_TEXT_STREAM = 7919


def sample_lm_sentences(
    count: int,
    exclude: Iterable[str],
    seed: int = 0,
    languages: Sequence[str] = LANGUAGES,
) -> List[str]:
    """Draw ``count`` template sentences, none of them in ``exclude``.

    Args:
        count: number of sentences (languages alternate: zh, en, cs, zh ...).
        exclude: transcripts that must never be drawn (dev and test); they
            are compared after :func:`normalize_transcript`.
        seed: the same seed gives the same list.
        languages: any of "zh", "en", "cs".

    Returns:
        ``count`` normalized transcripts; repeats are allowed.

    Raises:
        ValueError: a negative count, an unknown language, or an exclusion
            list that leaves (almost) nothing to draw.
    """
    if count < 0:
        raise ValueError(f"sample_lm_sentences: count must be >= 0, got {count}")
    unknown = sorted(set(languages) - set(TEMPLATES))
    if unknown or not languages:
        raise ValueError(f"languages {list(languages)}: expected some of {LANGUAGES}")
    banned: Set[str] = {normalize_transcript(t) for t in exclude}
    rng = np.random.default_rng([LM_TEXT_STREAM, seed])
    out: List[str] = []
    rejected = 0  # consecutive draws that were excluded or too long
    while len(out) < count:
        language = languages[len(out) % len(languages)]
        templates = TEMPLATES[language]
        text = normalize_transcript(templates[int(rng.integers(len(templates)))].fill(rng))
        if text in banned or spoken_length(text) > MAX_SPOKEN_LENGTH[language]:
            rejected += 1
            if rejected >= MAX_CONSECUTIVE_FAILURES:
                raise ValueError(
                    f"sample_lm_sentences: {rejected} {language!r} draws in a row were excluded "
                    "or too long; the exclusion list covers the template space"
                )
            continue
        rejected = 0
        out.append(text)
    return out
