"""Text-only LM sentences from the corpus templates (espnet_llm_entropy.corpus.lm_text)."""

import pytest

from espnet_llm_entropy.corpus.lm_text import sample_lm_sentences
from espnet_llm_entropy.corpus.sentence_templates import normalize_transcript, split_language_runs


def test_same_seed_same_sentences_other_seed_other_sentences():
    a = sample_lm_sentences(200, [], seed=3)
    assert a == sample_lm_sentences(200, [], seed=3)
    assert a != sample_lm_sentences(200, [], seed=4)
    assert len(a) == 200


def test_excluded_sentences_are_never_drawn_even_when_spaced_differently():
    pool = sample_lm_sentences(3000, [], seed=0, languages=("zh",))
    frequent = max(set(pool), key=pool.count)  # a sentence the sampler does draw
    assert pool.count(frequent) >= 2
    spaced = " ".join(frequent)  # Chinese characters with spaces between them
    drawn = sample_lm_sentences(3000, [spaced], seed=0, languages=("zh",))
    assert frequent not in drawn
    assert normalize_transcript(spaced) == frequent


def test_languages_alternate_and_only_the_requested_ones_appear():
    out = sample_lm_sentences(30, [], seed=0, languages=("en", "zh"))
    scripts = [{lang for lang, _ in split_language_runs(s)} for s in out]
    assert all(s == {"en"} for s in scripts[0::2])
    assert all(s == {"zh"} for s in scripts[1::2])


@pytest.mark.parametrize("kwargs, match", [
    ({"count": -1, "exclude": []}, "count"),
    ({"count": 3, "exclude": [], "languages": ("fr",)}, "languages"),
])
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_lm_sentences(**kwargs)
