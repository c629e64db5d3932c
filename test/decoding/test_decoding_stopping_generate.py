"""Stopping criteria inside transformers' generate() on a tiny rigged Llama."""

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from espnet_llm_entropy.decoding import (  # noqa: E402
    DecodingGuardConfig,
    MaxNewTokensPerSequenceCriteria,
    RepetitionLoopStoppingCriteria,
    build_logits_processors,
    build_stopping_criteria,
    detect_repetition_loop,
)

VOCAB = 32
PAD = 31  # also EOS; no token maps to it, so it is never generated


def next_token_map():
    """Deterministic successor of each token.

    0..19 form a 20-cycle (period 20 > max_ngram: never a short loop),
    20 <-> 21 is a 2-token cycle, 25 -> 25 repeats forever,
    22 -> 23 -> 24 -> 25 leads into the 1-token loop.
    """
    succ = {t: (t + 1) % 20 for t in range(20)}
    succ.update({20: 21, 21: 20, 22: 23, 23: 24, 24: 25, 25: 25})
    for t in range(VOCAB):
        succ.setdefault(t, 0)
    return succ


@pytest.fixture(scope="module")
def rigged_model():
    """Llama (hidden 32, 2 layers) whose greedy output is ``next_token_map``.

    Attention and MLP outputs are zeroed (o_proj, down_proj = 0), so the
    residual stream at a position is the embedding of its token; embeddings
    are the identity and lm_head a permutation-like matrix.
    """
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=PAD,
        eos_token_id=PAD,
        bos_token_id=0,
        tie_word_embeddings=False,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.copy_(torch.eye(VOCAB))
        head = torch.zeros(VOCAB, VOCAB)
        for tok, nxt in next_token_map().items():
            head[nxt, tok] = 10.0
        model.lm_head.weight.copy_(head)
    return model


def generate(model, starts, max_new_tokens, **kwargs):
    input_ids = torch.tensor([[s] for s in starts])
    out = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=PAD,
        eos_token_id=PAD,
        **kwargs,
    )
    return [[t for t in row[1:].tolist() if t != PAD] for row in out], out


def test_rigged_model_follows_map_without_guard(rigged_model):
    rows, _ = generate(rigged_model, [1, 20], max_new_tokens=30)
    succ = next_token_map()
    assert len(rows[0]) == 30 and len(rows[1]) == 30
    assert rows[1][:4] == [21, 20, 21, 20]
    assert all(succ[a] == b for a, b in zip(rows[0], rows[0][1:]))


def test_loop_criterion_stops_looping_rows_only(rigged_model):
    criterion = RepetitionLoopStoppingCriteria(
        max_ngram=8, min_repeats=4, min_span=8, start_length=1
    )
    rows, out = generate(
        rigged_model,
        [1, 20, 22],
        max_new_tokens=60,
        stopping_criteria=transformers.StoppingCriteriaList([criterion]),
    )
    # the non-looping row runs to the budget, so generation lasted 60 steps
    assert out.shape[1] == 61
    assert len(rows[0]) == 60 and not detect_repetition_loop(rows[0], 8, 4, 8)
    # 2-cycle: stops as soon as 4 copies (8 tokens) are out
    assert rows[1] == [21, 20] * 4
    # 22 23 24 then 25 repeated: stops once 8 copies of the unigram exist
    assert rows[2] == [23, 24] + [25] * 8
    assert out[1, 1 + 8 :].eq(PAD).all() and out[2, 1 + 10 :].eq(PAD).all()


def test_per_sequence_budget_stops_each_row_at_its_own_length(rigged_model):
    budgets = torch.tensor([5, 12])
    rows, out = generate(
        rigged_model,
        [1, 3],
        max_new_tokens=int(budgets.max()),
        stopping_criteria=transformers.StoppingCriteriaList(
            [MaxNewTokensPerSequenceCriteria(budgets, start_length=1)]
        ),
    )
    assert [len(r) for r in rows] == [5, 12]
    assert rows[0] == [2, 3, 4, 5, 6]


def test_no_repeat_ngram_processor_breaks_the_cycle(rigged_model):
    conf = DecodingGuardConfig(no_repeat_ngram_size=2, stop_on_loop=False)
    rows, _ = generate(
        rigged_model, [20], max_new_tokens=20, logits_processor=build_logits_processors(conf)
    )
    seq = [20] + rows[0]
    bigrams = list(zip(seq, seq[1:]))
    assert len(bigrams) == len(set(bigrams))
    assert seq[:3] == [20, 21, 20]  # the model's preference until it is banned


def test_built_stopping_criteria_in_generate(rigged_model):
    conf = DecodingGuardConfig(loop_max_ngram=4, loop_min_repeats=3, loop_min_span=6)
    criteria = build_stopping_criteria(conf, start_length=1, budgets=[40, 7])
    rows, _ = generate(rigged_model, [20, 1], max_new_tokens=40, stopping_criteria=criteria)
    assert rows[0] == [21, 20] * 3
    assert rows[1] == [2, 3, 4, 5, 6, 7, 8]
    assert conf.postprocess(rows[0]) == [21, 20]


def test_loop_criterion_with_inputs_embeds(rigged_model):
    """LLM-ASR decodes from embeddings: input_ids then hold only new tokens."""
    embeds = rigged_model.model.embed_tokens(torch.tensor([[1], [20]])).detach()
    out = rigged_model.generate(
        inputs_embeds=embeds,
        attention_mask=torch.ones(2, 1, dtype=torch.long),
        max_new_tokens=50,
        do_sample=False,
        pad_token_id=PAD,
        eos_token_id=PAD,
        stopping_criteria=transformers.StoppingCriteriaList([RepetitionLoopStoppingCriteria()]),
    )
    rows = [[t for t in row.tolist() if t != PAD] for row in out]
    assert out.shape[1] == 50
    assert rows[0][:3] == [2, 3, 4] and len(rows[0]) == 50
    assert rows[1] == [21, 20] * 4
