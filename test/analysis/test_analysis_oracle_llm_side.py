"""The oracle LLM side of the error diagnosis (espnet_llm_entropy.analysis.oracle_llm_side)."""

from argparse import Namespace

import pytest
import torch

from espnet_llm_entropy.analysis.oracle_llm_side import (
    OracleItem,
    OraclePhoneFrames,
    build_oracle_model,
    decode_oracle,
    train_oracle,
    uniform_phone_frames,
)
from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir


@pytest.mark.parametrize("phones, frames", [([4, 5, 6], 7), ([4, 5, 6], 3), ([4, 5, 6], 1), ([9], 5)])
def test_uniform_frames_keep_every_phone_in_order(phones, frames):
    out = uniform_phone_frames(phones, frames)
    assert len(out) == max(len(phones), frames)
    collapsed = [p for i, p in enumerate(out) if i == 0 or out[i - 1] != p]
    assert collapsed == phones
    runs = [out.count(p) for p in phones]
    assert max(runs) - min(runs) <= 1  # evenly spread


def test_oracle_frames_are_one_hot_and_zero_on_padding():
    frames = torch.tensor([[2, 2, 3], [1, -1, -1]])
    out, lengths = OraclePhoneFrames(5)(frames, torch.tensor([3, 1]))
    assert out.shape == (2, 3, 5)
    assert torch.equal(out.sum(-1), torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    assert out[0, 2, 3] == 1 and out[1, 0, 1] == 1


@pytest.fixture(scope="module")
def oracle_args(tmp_path_factory):
    llm = make_tiny_llm_dir(tmp_path_factory.mktemp("llm") / "lm", texts=["one two", "three four"] * 4)
    return Namespace(
        llm_conf={"path": str(llm), "train_mode": "full"}, adaptor_conf={"stack": 2},
        model_conf={"prompt_before": "<s>", "prompt_after": "</s>", "ctc_weight": 0.3},
    )


def test_the_oracle_learns_to_read_phones_into_tokens(oracle_args):
    """Two utterances whose phones differ map to two different token strings."""
    torch.manual_seed(0)
    model = build_oracle_model(oracle_args, num_phones=6)
    tok = model.tokenizer
    items = [
        OracleItem("a", uniform_phone_frames([1, 2], 8), tok("one two", add_special_tokens=False)["input_ids"], 0.2, 2),
        OracleItem("b", uniform_phone_frames([3, 4], 8), tok("three four", add_special_tokens=False)["input_ids"], 0.2,
                   2),
    ]
    losses = train_oracle(model, items, steps=60, batch_size=2, lr=1e-2, warmup=5, progress=False)
    assert losses[-1] < 0.1 * losses[0]
    hyps = decode_oracle(model, items, batch_size=2)
    assert hyps == {"a": "one two", "b": "three four"}
    assert decode_oracle(model, items[1:], batch_size=1) == {"b": "three four"}
    # the decoder's guards leave a learned output alone ...
    from espnet_llm_entropy.decoding.guard_config import DecodingGuardConfig

    assert decode_oracle(model, items, batch_size=2, guard=DecodingGuardConfig()) == hyps
    # ... and bound it as the full model's decoder does: one token per phone at most here
    tight = DecodingGuardConfig(min_tokens=1, length_slack=1.0, ctc_tokens_per_phone=0.5)
    short = decode_oracle(model, items, batch_size=2, guard=tight)
    assert short == {"a": "one", "b": "three"}
