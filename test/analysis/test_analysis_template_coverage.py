"""Test errors split by the training coverage of each sentence's corpus template."""

import numpy as np
import pytest

from espnet_llm_entropy.analysis.template_coverage import errors_by_template_coverage, template_counts, template_of
from espnet_llm_entropy.corpus.sentence_templates import TEMPLATES, normalize_transcript


def test_every_generated_sentence_is_traced_to_its_own_template():
    """Each template's own fills come back to it (or to a template that produces the very same text)."""
    rng = np.random.default_rng(0)
    for language, templates in TEMPLATES.items():
        for index, template in enumerate(templates):
            for _ in range(5):
                text = normalize_transcript(template.fill(rng))
                assert template_of(text) == f"{language}:{index}:{template.pattern}", text
    assert template_of("an utterance of another corpus") is None
    assert template_of("我想吃西瓜").startswith("zh:") and template_of("我想吃 西瓜") == template_of("我想吃西瓜")


def test_errors_split_at_the_coverage_threshold():
    train = ["我想吃苹果", "我的号码是一二三", "我的号码是四五六", "我的号码是七八九"]
    refs = {"a": "我想吃西瓜", "b": "我的号码是一一一", "c": "hello there, general kenobi"}
    hyps = {"a": "我想吃苹果", "b": "我的号码是一一一"}  # "c" has no hypothesis: all deleted
    counts = template_counts(train)
    assert counts[template_of("我想吃西瓜")] == 1 and counts[template_of("我的号码是一一一")] == 3
    out = errors_by_template_coverage(refs, hyps, train, min_train=2)
    assert {k: out["rare"][k] for k in ("utts", "errors", "ref_units")} == {"utts": 1, "errors": 2, "ref_units": 5}
    assert out["rare"]["rows"][0]["utt_id"] == "a" and out["rare"]["rows"][0]["train_transcripts"] == 1
    assert out["unmatched"] == {"utts": 1, "ref_units": 4, "errors": 4, "rate": 1.0}
    assert out["covered"] == {"utts": 1, "ref_units": 8, "errors": 0, "rate": 0.0}
    assert errors_by_template_coverage(refs, hyps, train, min_train=1)["rare"]["utts"] == 0
    with pytest.raises(ValueError, match="min_train: expected >= 1"):
        errors_by_template_coverage(refs, hyps, train, min_train=0)
