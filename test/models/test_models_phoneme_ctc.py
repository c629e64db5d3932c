import pytest
import torch

from espnet_llm_entropy.models.phoneme_ctc import PhonemeCTCModel, consistency_loss
from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder

TOKENS = ["<blank>", "<unk>", "a1", "b", "c", "d"]


def _model(cr_weight=0.2):
    torch.manual_seed(0)
    return PhonemeCTCModel(len(TOKENS), TOKENS, build_tiny_speech_encoder(), cr_weight=cr_weight,
                           head_hidden_size=16)


def _targets():
    return torch.tensor([[2, 3, 4], [5, 2, -1], [3, -1, -1]]), torch.tensor([3, 2, 1])


def test_consistency_is_zero_for_identical_views_and_positive_otherwise():
    logits = torch.randn(2, 7, 6)
    lengths = torch.tensor([7, 4])
    assert consistency_loss(logits, logits, lengths).item() == pytest.approx(0.0, abs=1e-6)
    assert consistency_loss(logits, torch.randn(2, 7, 6), lengths).item() > 0.01


def test_consistency_gradient_flows_to_each_view_against_the_detached_other():
    a = torch.randn(1, 5, 6, requires_grad=True)
    b = torch.randn(1, 5, 6, requires_grad=True)
    consistency_loss(a, b, torch.tensor([5])).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_cr_ctc_training_step_reports_both_losses_and_updates_every_module(audio_batch):
    model = _model(cr_weight=0.2).train()
    text, text_lengths = _targets()
    loss, stats, weight = model(*audio_batch, text, text_lengths)
    loss.backward()
    assert {"loss", "loss_ctc", "loss_cr"} <= set(stats)
    assert stats["loss_cr"] > 0  # two SpecAugment draws differ
    assert weight.item() == 3
    assert torch.isclose(loss, stats["loss_ctc"] + 0.2 * stats["loss_cr"])
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []


def test_plain_ctc_when_weight_is_zero(audio_batch):
    model = _model(cr_weight=0.0).train()
    _, stats, _ = model(*audio_batch, *_targets())
    assert "loss_cr" not in stats


def test_validation_reports_phone_error_rate(audio_batch):
    model = _model().eval()
    _, stats, _ = model(*audio_batch, *_targets())
    assert 0.0 <= stats["per"].item() <= 3.0


def test_greedy_phone_decoding_returns_symbols(audio_batch):
    hyps = _model().eval().recognize_phones(*audio_batch)
    assert len(hyps) == 3 and all(set(h) <= set(TOKENS[1:]) for h in hyps)


def test_too_short_audio_has_a_clear_error():
    model = _model().eval()
    # ESPnet's encoders raise TooShortUttError naming the frame counts
    with pytest.raises(Exception, match="too short for subsampling"):
        model(torch.zeros(1, 400), torch.tensor([400]), torch.tensor([[2]]), torch.tensor([1]))
