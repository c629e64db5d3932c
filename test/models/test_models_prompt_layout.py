import torch

from espnet_llm_entropy.models.prompt_layout import (
    assemble_prompted_inputs,
    prediction_positions,
)


def _naive(prefix, speech, s_len, suffix, text, t_len, left_pad):
    rows = []
    for b in range(speech.size(0)):
        parts = [prefix, speech[b, : s_len[b]], suffix]
        if text is not None:
            parts.append(text[b, : t_len[b]])
        rows.append(torch.cat(parts))
    width = max(r.size(0) for r in rows)
    out = torch.zeros(len(rows), width, speech.size(-1))
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for b, r in enumerate(rows):
        if left_pad:
            out[b, width - r.size(0):] = r
            mask[b, width - r.size(0):] = 1
        else:
            out[b, : r.size(0)] = r
            mask[b, : r.size(0)] = 1
    return out, mask


def _inputs():
    g = torch.Generator().manual_seed(0)
    prefix = torch.randn(3, 5, generator=g)
    suffix = torch.randn(2, 5, generator=g)
    speech = torch.randn(3, 6, 5, generator=g)
    text = torch.randn(3, 4, 5, generator=g)
    return prefix, speech, torch.tensor([6, 2, 0]), suffix, text, torch.tensor([1, 4, 3])


def test_right_padded_layout_matches_a_loop():
    args = _inputs()
    batch = assemble_prompted_inputs(*args)
    ref, mask = _naive(*args, left_pad=False)
    assert torch.equal(batch.attention_mask, mask)
    assert torch.allclose(batch.inputs_embeds, ref)
    assert batch.text_start.tolist() == [3 + 6 + 2, 3 + 2 + 2, 3 + 0 + 2]


def test_left_padded_layout_matches_a_loop():
    prefix, speech, s_len, suffix, _, _ = _inputs()
    batch = assemble_prompted_inputs(prefix, speech, s_len, suffix, left_pad=True)
    ref, mask = _naive(prefix, speech, s_len, suffix, None, None, left_pad=True)
    assert torch.equal(batch.attention_mask, mask)
    assert torch.allclose(batch.inputs_embeds, ref)


def test_prediction_positions_cover_transcript_and_eos():
    args = _inputs()
    batch = assemble_prompted_inputs(*args)
    t_len = args[-1]
    pick = prediction_positions(batch, t_len + 1)
    assert pick.sum(1).tolist() == (t_len + 1).tolist()
    for b in range(3):
        idx = pick[b].nonzero().flatten()
        assert idx[0] == batch.text_start[b] - 1  # last prompt position predicts token 0
        assert idx[-1] == batch.lengths[b] - 1  # last real position predicts EOS
