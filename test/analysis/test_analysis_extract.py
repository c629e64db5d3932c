"""Extraction with forward hooks, frame labels and streaming statistics on tiny models."""

import math

import pytest
import torch
from torch import nn

from espnet_llm_entropy.analysis import cka_matrix, spectral_metrics
from espnet_llm_entropy.analysis.extract import capture_outputs, encoder_blocks, extract_batch, llm_blocks
from espnet_llm_entropy.metrics.experiment_metrics import spectral_report
from espnet_llm_entropy.metrics.frame_phone_labels import IGNORE_LABEL, align_batch_phones, pool_labels
from espnet_llm_entropy.metrics.layer_cka import CKAMatrixAccumulator
from espnet_llm_entropy.metrics.representation_stats import ExperimentStatistics, FrameBudget
from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor
from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
from espnet_llm_entropy.models.llm_asr import LLMASRModel
from espnet_llm_entropy.models.phoneme_ctc import PhonemeCTCModel
from espnet_llm_entropy.models.prompt_layout import assemble_prompted_inputs
from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder, make_tiny_llm_dir
from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

PHONES = ["<blank>", "<unk>", "a1", "b", "c"]
TEXTS = ("hello world", "open the door", "good morning")


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return make_tiny_llm_dir(tmp_path_factory.mktemp("llm") / "qwen2_tiny")


@pytest.fixture(scope="module")
def llm_asr(llm_dir):
    torch.manual_seed(0)
    llm = HFCausalLM(str(llm_dir), train_mode="lora", lora_conf={"r": 4, "alpha": 8, "dropout": 0.0})
    enc = build_tiny_speech_encoder(specaug=False)
    adaptor = FrameStackMLPAdaptor(enc.output_size(), llm.hidden_size, stack=4)
    return LLMASRModel(len(PHONES), PHONES, enc, adaptor, llm, load_llm_tokenizer(llm_dir),
                       prompt_before="say:", prompt_after="now", ctc_weight=0.3, ctc_head_hidden_size=16)


def _speech(seed=0, lengths=(16000, 12000, 9000)):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    speech = torch.randn(len(lengths), int(lengths.max()), generator=g) * 0.1
    for i, n in enumerate(lengths.tolist()):
        speech[i, n:] = 0
    return speech, lengths


def _tokens(model, texts=TEXTS):
    ids = [model.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    tok = torch.full((len(ids), max(map(len, ids))), -1)
    for i, row in enumerate(ids):
        tok[i, : len(row)] = torch.tensor(row)
    return tok, torch.tensor([len(r) for r in ids])


def _hook_counts(model):
    return [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()]


def _extraction_leaves_no_hooks(model, *args):
    """Run extract_batch; True when every module has the hooks it had before (the speech
    encoder's own padding-invariance hooks are permanent, extraction's must be gone)."""
    before = _hook_counts(model)
    reps = extract_batch(model, *args)
    return reps, _hook_counts(model) == before


def test_llm_asr_extraction_shapes_values_and_hook_cleanup(llm_asr):
    speech, lengths = _speech()
    tok, tok_len = _tokens(llm_asr)
    llm_asr.train()
    reps, clean = _extraction_leaves_no_hooks(llm_asr, speech, lengths, tok, tok_len)
    assert llm_asr.training and clean

    llm_asr.eval()
    with torch.no_grad():
        enc, enc_len = llm_asr.encode(speech, lengths)
        emb, emb_len = llm_asr.adaptor(enc, enc_len)
    n_enc, n_ad = int(enc_len.sum()), int(emb_len.sum())
    assert torch.equal(reps.encoder_lengths, enc_len) and torch.equal(reps.adaptor_lengths, emb_len)
    assert len(reps.encoder_layers) == len(encoder_blocks(llm_asr)) == 2
    assert all(x.shape == (n_enc, 32) for x in reps.encoder_layers)
    mask = torch.arange(enc.size(1))[None] < enc_len[:, None]
    torch.testing.assert_close(reps.encoder_out, enc[mask])
    # the last block's output, through the encoder's final LayerNorm, is the encoder output
    torch.testing.assert_close(llm_asr.speech_encoder.encoder.after_norm(reps.encoder_layers[-1]), reps.encoder_out)
    assert reps.ctc_log_probs.shape == (n_enc, len(PHONES))
    torch.testing.assert_close(reps.ctc_log_probs.exp().sum(-1), torch.ones(n_enc))
    assert reps.adaptor_out.shape == (n_ad, llm_asr.llm.hidden_size)

    hidden = llm_asr.llm.hidden_size
    assert len(reps.llm_speech_layers) == len(reps.llm_transcript_layers) == len(llm_blocks(llm_asr)) == 2
    assert all(x.shape == (n_ad, hidden) for x in reps.llm_speech_layers)
    assert all(x.shape == (int(tok_len.sum()), hidden) for x in reps.llm_transcript_layers)
    # final norm of the last layer at the transcript positions == the LLM body's output there
    with torch.no_grad():
        prefix, suffix = llm_asr._prompts()
        batch = assemble_prompted_inputs(prefix, emb, emb_len, suffix, llm_asr.llm.embed_tokens(tok.clamp(min=0)), tok_len)
        body_out = llm_asr.llm.hidden_states(batch.inputs_embeds, batch.attention_mask)
        norm = llm_asr.llm.model.get_decoder().norm
        pos = torch.arange(body_out.size(1))[None]
        text_mask = (pos >= batch.text_start[:, None]) & (pos < (batch.text_start + tok_len)[:, None])
        torch.testing.assert_close(norm(reps.llm_transcript_layers[-1]), body_out[text_mask])
        speech_mask = (pos >= prefix.size(0)) & (pos < prefix.size(0) + emb_len[:, None])
        torch.testing.assert_close(norm(reps.llm_speech_layers[-1]), body_out[speech_mask])
        nll, _, row = llm_asr.transcript_nll(emb, emb_len, tok, tok_len)
        prior, _, prow = llm_asr.transcript_nll(emb, torch.zeros_like(emb_len), tok, tok_len)
    for b in range(3):
        assert math.isclose(float(reps.nll_with_speech[b]), float(nll[row == b].sum()), rel_tol=1e-5)
        assert math.isclose(float(reps.nll_without_speech[b]), float(prior[prow == b].sum()), rel_tol=1e-5)
    assert reps.num_scored_tokens.tolist() == (tok_len + 1).tolist()
    assert not torch.allclose(reps.nll_with_speech.float(), reps.nll_without_speech.float())


def test_phoneme_ctc_model_has_no_llm_side():
    torch.manual_seed(0)
    model = PhonemeCTCModel(len(PHONES), PHONES, build_tiny_speech_encoder(), head_hidden_size=16)
    speech, lengths = _speech(lengths=(8000, 6400))
    reps, clean = _extraction_leaves_no_hooks(model, speech, lengths)
    assert reps.adaptor_out is None and reps.llm_speech_layers == [] and reps.nll_with_speech is None
    assert reps.ctc_log_probs.shape == (int(reps.encoder_lengths.sum()), len(PHONES))
    assert list(reps.encoder_representations()) == ["encoder_layer_1", "encoder_layer_2", "encoder_output"]
    assert clean


def test_hooks_are_removed_when_the_forward_raises():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)

        def forward(self, x):
            self.inner(x)
            raise RuntimeError("boom")

    module = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        with capture_outputs([module.inner]) as captured:
            module(torch.zeros(1, 2))
    assert captured[0].shape == (1, 2)
    assert not module.inner._forward_hooks


def test_capture_keeps_first_tensor_of_tuple_outputs():
    class Pair(nn.Module):
        def forward(self, x):
            return (x * 2, "mask"), x

    module = Pair()
    with capture_outputs([module]) as captured:
        module(torch.ones(3))
    assert torch.equal(captured[0], torch.full((3,), 2.0))


def test_encoder_without_block_list_is_a_clear_error():
    with pytest.raises(ValueError, match="speech_encoder.encoder.encoders"):
        encoder_blocks(nn.Linear(2, 2))


def test_forced_alignment_labels_and_pooling():
    # utterance 0: 6 frames peaked on phones 2, 2, blank, 3, 3, blank; utterance 1: too short
    peaks = [2, 2, 0, 3, 3, 0]
    lp = torch.full((6, 5), -20.0)
    lp[torch.arange(6), torch.tensor(peaks)] = 0.0
    lp = lp.log_softmax(-1)
    short = torch.zeros(1, 5).log_softmax(-1)
    targets = torch.tensor([[2, 3, 4], [2, 3, 4]])
    labels, failed = align_batch_phones(torch.cat([lp, short]), torch.tensor([6, 1]),
                                        targets[:, :2].clone(), torch.tensor([2, 2]))
    assert failed == 1
    assert labels.tolist() == [2, 2, 2, 3, 3, 3, IGNORE_LABEL]
    pooled = pool_labels(torch.tensor([2, 2, 3, 3, 3, 4, IGNORE_LABEL]), torch.tensor([6, 1]), 4,
                         torch.tensor([2, 1]))
    assert pooled.tolist() == [2, 3, IGNORE_LABEL]  # tie 2/2 -> smaller id
    with pytest.raises(ValueError, match="adaptor produced"):
        pool_labels(torch.tensor([2, 2, 3]), torch.tensor([3]), 4, torch.tensor([2]))


def test_frame_budget_keeps_a_prefix():
    budget = FrameBudget(10)
    assert [budget.take(4), budget.take(4), budget.take(4), budget.take(4)] == [4, 4, 2, 0]
    assert FrameBudget(None).take(7) == 7
    with pytest.raises(ValueError, match="max_frames"):
        FrameBudget(0)


@pytest.mark.parametrize("max_frames", [None, 50])
def test_streaming_statistics_equal_one_shot_metrics(llm_asr, max_frames):
    tok, tok_len = _tokens(llm_asr)
    stats = ExperimentStatistics(max_frames=max_frames)
    acc = None
    batches = []
    for seed in range(2):
        speech, lengths = _speech(seed, lengths=(12000 - 2000 * seed, 9000, 7000 + 1000 * seed))
        reps = extract_batch(llm_asr, speech, lengths, tok, tok_len)
        batches.append(reps)
        used = stats.update(reps)
        layers = list(used["encoder"].values())
        if layers[0].shape[0]:
            acc = acc or CKAMatrixAccumulator([x.shape[1] for x in layers], [x.shape[1] for x in layers])
            acc.update(layers, layers)
    streamed = spectral_report(stats)
    limit = max_frames or 10**9
    encoder_all = {name: torch.cat([b.encoder_representations()[name] for b in batches])[:limit]
                   for name in batches[0].encoder_representations()}
    expected = {name: spectral_metrics(x.double()) for name, x in encoder_all.items()}
    expected["adaptor_output"] = spectral_metrics(torch.cat([b.adaptor_out for b in batches])[:limit].double())
    expected["llm_layer_2_transcript"] = spectral_metrics(
        torch.cat([b.llm_transcript_layers[1] for b in batches])[:limit].double())
    for name, values in expected.items():
        for key, value in values.items():
            assert streamed[name][key] == pytest.approx(value, rel=1e-6, abs=1e-9), (name, key)
    assert streamed["encoder_output"]["num_frames"] == min(limit, sum(int(b.encoder_lengths.sum()) for b in batches))
    one_shot = cka_matrix([x.double() for x in encoder_all.values()])
    torch.testing.assert_close(acc.compute(), one_shot, atol=1e-6, rtol=0)
    assert stats.num_utterances == 6 and len(stats.nll_with_speech) == 6


def test_llm_layer_stride_keeps_every_kth_and_the_last_layer(llm_asr):
    speech, lengths = _speech(lengths=(9000, 8000, 7000))
    tok, tok_len = _tokens(llm_asr)
    reps = extract_batch(llm_asr, speech, lengths, tok, tok_len)
    kept = {}
    for stride in (1, 2, 5):
        stats = ExperimentStatistics(llm_layer_stride=stride)
        stats.update(reps)
        kept[stride] = sorted(n for n in stats.covariances if n.startswith("llm_layer_"))
    assert kept[1] == ["llm_layer_1_speech", "llm_layer_1_transcript", "llm_layer_2_speech", "llm_layer_2_transcript"]
    assert kept[2] == kept[5] == ["llm_layer_2_speech", "llm_layer_2_transcript"]
    with pytest.raises(ValueError, match="llm_layer_stride"):
        ExperimentStatistics(llm_layer_stride=0)
