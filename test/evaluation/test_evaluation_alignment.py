"""Edit alignment S/I/D counts, LCS and the error-rate scorer."""

import random

import editdistance
import pytest

from espnet_llm_entropy.evaluation import EditCounts, align_counts, error_rate, lcs_length


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        ("a b c d", "a x c d e", EditCounts(cor=3, sub=1, ins=1, dele=0)),
        ("a b c", "", EditCounts(cor=0, sub=0, ins=0, dele=3)),
        ("", "a b", EditCounts(cor=0, sub=0, ins=2, dele=0)),
        ("a b c d", "a c d", EditCounts(cor=3, sub=0, ins=0, dele=1)),
        ("a b", "b a", EditCounts(cor=0, sub=2, ins=0, dele=0)),
        ("x y z", "x y z", EditCounts(cor=3)),
    ],
)
def test_align_counts_hand_cases(ref, hyp, expected):
    assert align_counts(ref.split(), hyp.split()) == expected


def test_totals_match_editdistance_and_lcs_matches_reference_dp():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.randrange(4) for _ in range(rng.randrange(12))]
        b = [rng.randrange(4) for _ in range(rng.randrange(12))]
        counts = align_counts(a, b)
        assert counts.errors == editdistance.eval(a, b)
        assert counts.ref_len == len(a) and counts.cor + counts.sub + counts.ins == len(b)
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        assert lcs_length(a, b) == table[-1][-1]


def test_lcs_hand_cases():
    assert lcs_length("abcbdab", "bdcaba") == 4
    assert lcs_length([], [1, 2]) == 0


def test_error_rate_mixed_char_word():
    refs = ["我喜欢 deep learning", "turn left"]
    hyps = ["我爱 deep learning", "turn left now"]
    mixed = error_rate(refs, hyps, unit="mixed")
    # 我 喜->爱 (sub) 欢 (del) deep learning | turn left +now (ins)
    assert (mixed["cor"], mixed["sub"], mixed["del"], mixed["ins"]) == (5, 1, 1, 1)
    assert mixed["ref_len"] == 7 and mixed["errors"] == 3
    assert mixed["rate"] == pytest.approx(3 / 7)
    assert mixed["sentence_errors"] == 2 and mixed["n_utts"] == 2
    word = error_rate(refs, hyps, unit="word")
    # 我喜欢 -> 我爱 is one substituted word
    assert (word["sub"], word["ins"], word["del"], word["ref_len"]) == (1, 1, 0, 5)
    char = error_rate(["ab"], ["abc"], unit="char")
    assert (char["ins"], char["rate"]) == (1, 0.5)


def test_error_rate_edge_cases():
    assert error_rate([""], [""])["rate"] is None
    assert error_rate(["a"], ["A!"])["errors"] == 0
    with pytest.raises(ValueError, match="2 references but 1"):
        error_rate(["a", "b"], ["a"])
