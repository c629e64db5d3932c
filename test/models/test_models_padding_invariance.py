"""An utterance is encoded (and scored) the same alone and inside a padded batch."""

import copy

import pytest
import torch

from espnet_llm_entropy.models.legacy_rel_attention import PaddingInvariantLegacyRelAttention
from espnet_llm_entropy.models.padding_invariance import reflect_pad_ends, subsampled_lengths
from espnet_llm_entropy.models.speech_encoder import SpeechEncoder
from espnet_llm_entropy.testing.tiny_components import tiny_encoder_conf

LENGTHS = [16000, 12345, 9000, 7777, 15001, 5000, 11111, 8000]
TOL = 1e-4


def _waves(lengths=LENGTHS, seed=1):
    """Noise whose loudness varies and which does not fade out at the end (so the
    STFT's reflection at the end matters), padded: list of (S,), (B, S), (B,)."""
    g = torch.Generator().manual_seed(seed)
    waves = [torch.randn(n, generator=g) * (0.5 + 0.5 * torch.sin(torch.arange(n) / 900.0))
             for n in lengths]
    return waves, torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), torch.tensor(lengths)


def _encoder_module(kind):
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

    small = dict(output_size=32, attention_heads=2, linear_units=64, num_blocks=2, input_layer="conv2d")
    if kind == "conformer_legacy":  # ESPnet's default rel_pos_type, what conf/tiny uses
        return ConformerEncoder(input_size=20, **tiny_encoder_conf())
    if kind == "conformer_latest":  # what the egs2 recipes use
        return ConformerEncoder(input_size=20, rel_pos_type="latest", **tiny_encoder_conf())
    if kind == "thin_subsampling_conformer":  # conf/tiny's encoder: an 8-channel conv2d input layer
        from espnet_llm_entropy.models.thin_subsampling_conformer import ThinSubsamplingConformerEncoder

        return ThinSubsamplingConformerEncoder(input_size=20, subsampling_channels=8, **tiny_encoder_conf())
    if kind == "e_branchformer":
        return EBranchformerEncoder(input_size=20, cgmlp_linear_units=64, **small)
    return TransformerEncoder(input_size=20, **small)


def _speech_encoder(kind="conformer_legacy", padding_invariant=True):
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.layers.utterance_mvn import UtteranceMVN

    torch.manual_seed(0)
    frontend = DefaultFrontend(n_fft=256, hop_length=160, n_mels=20)
    enc = SpeechEncoder(frontend, None, UtteranceMVN(), _encoder_module(kind), padding_invariant)
    return enc.eval()


def _alone_vs_batch(enc, waves, speech, lengths):
    """(#length mismatches, max |alone - batch| over shared valid frames)."""
    with torch.no_grad():
        out, out_lengths = enc(speech, lengths)
        mismatches, worst = 0, 0.0
        for i, w in enumerate(waves):
            one, one_length = enc(w[None], lengths[i:i + 1])
            mismatches += int(one_length[0] != out_lengths[i])
            n = int(min(one_length[0], out_lengths[i]))
            worst = max(worst, (one[0, :n] - out[i, :n]).abs().max().item())
    return mismatches, worst


@pytest.mark.parametrize("kind", ["conformer_legacy", "conformer_latest", "thin_subsampling_conformer",
                                  "e_branchformer", "transformer"])
def test_encoding_and_length_do_not_depend_on_the_batch(kind):
    waves, speech, lengths = _waves()
    enc = _speech_encoder(kind)
    mismatches, worst = _alone_vs_batch(enc, waves, speech, lengths)
    assert mismatches == 0 and worst < TOL
    with torch.no_grad():
        out, out_lengths = enc(speech, lengths)
    padded = torch.arange(out.size(1))[None, :] >= out_lengths[:, None]
    assert out[padded].abs().max() == 0  # frames past an utterance's end are zero


def test_without_the_fix_the_batch_changes_lengths_and_frames():
    waves, speech, lengths = _waves()
    mismatches, worst = _alone_vs_batch(_speech_encoder(padding_invariant=False), waves, speech, lengths)
    assert mismatches >= 4 and worst > 0.01


def test_shuffled_and_differently_padded_batches_agree():
    waves, speech, lengths = _waves()
    enc = _speech_encoder()
    order = torch.tensor([5, 2, 7, 0, 3, 1, 6, 4])
    wider = torch.nn.functional.pad(speech[order], (0, 3000), value=0.7)  # odd padding value
    with torch.no_grad():
        out, out_lengths = enc(speech, lengths)
        out2, out2_lengths = enc(wider, lengths[order])
    assert torch.equal(out_lengths[order], out2_lengths)
    m = min(out.size(1), out2.size(1))
    assert (out[order][:, :m] - out2[:, :m]).abs().max() < TOL


def test_reflect_pad_ends_matches_torch_reflection_per_row():
    waves, speech, lengths = _waves([700, 300, 1000])
    ext = reflect_pad_ends(speech, lengths, 128)
    assert ext.shape == (3, 1000 + 128)
    for i, w in enumerate(waves):
        alone = torch.nn.functional.pad(w[None, None], (0, 128), mode="reflect")[0, 0]
        assert torch.equal(ext[i, : len(alone)], alone)
    stereo = torch.stack([speech, -speech], -1)  # (B, S, 2)
    assert torch.equal(reflect_pad_ends(stereo, lengths, 128)[..., 1], -ext)


@pytest.mark.parametrize("layer", ["conv2d", "conv2d2", "conv2d6", "conv2d8"])
def test_subsampled_lengths_equal_the_lengths_of_an_unpadded_input(layer):
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

    enc = TransformerEncoder(input_size=20, output_size=8, attention_heads=1, linear_units=8,
                             num_blocks=1, input_layer=layer).eval()
    for t in (15, 16, 17, 18, 40, 61, 101):
        x = torch.zeros(1, t, 20)
        mask = torch.ones(1, 1, t, dtype=torch.bool)
        out, _ = enc.embed(x, mask)
        assert int(subsampled_lengths(enc.embed, torch.tensor([t]))) == out.size(1), t


def test_legacy_attention_scores_each_row_as_if_alone():
    from espnet.nets.pytorch_backend.transformer.attention import LegacyRelPositionMultiHeadedAttention
    from espnet.nets.pytorch_backend.transformer.embedding import LegacyRelPositionalEncoding

    torch.manual_seed(0)
    plain = LegacyRelPositionMultiHeadedAttention(2, 16, 0.0).eval()
    fixed = copy.deepcopy(plain)
    fixed.__class__ = PaddingInvariantLegacyRelAttention
    pos = LegacyRelPositionalEncoding(16, 0.0)
    lengths = torch.tensor([9, 5, 7])
    x = torch.randn(3, 9, 16)
    mask = (torch.arange(9)[None, :] < lengths[:, None]).unsqueeze(1)
    with torch.no_grad():
        _, pos_emb = pos(x)
        batch = fixed(x, x, x, pos_emb, mask)
        for i, n in enumerate(lengths.tolist()):
            xi = x[i:i + 1, :n]
            alone = plain(xi, xi, xi, pos(xi)[1], mask[i:i + 1, :, :n])
            assert (batch[i, :n] - alone[0]).abs().max() < 1e-5
        assert torch.equal(fixed(x, x, x, pos_emb, None), plain(x, x, x, pos_emb, None))


def test_state_dict_keys_are_unchanged_and_load_both_ways():
    fixed, plain = _speech_encoder(), _speech_encoder(padding_invariant=False)
    assert list(fixed.state_dict()) == list(plain.state_dict())
    fixed.load_state_dict(plain.state_dict(), strict=True)
    plain.load_state_dict(fixed.state_dict(), strict=True)


def test_a_deep_copy_stays_padding_invariant():
    waves, speech, lengths = _waves(LENGTHS[:4])
    clone = copy.deepcopy(_speech_encoder())
    mismatches, worst = _alone_vs_batch(clone, waves, speech, lengths)
    assert mismatches == 0 and worst < TOL


def test_phoneme_ctc_eval_loss_of_a_batch_is_the_mean_of_the_utterances():
    from espnet_llm_entropy.models.phoneme_ctc import PhonemeCTCModel

    tokens = ["<blank>", "<unk>", "a1", "b", "c", "d"]
    model = PhonemeCTCModel(len(tokens), tokens, _speech_encoder(), head_hidden_size=16).eval()
    waves, speech, lengths = _waves(LENGTHS[:4])
    text = torch.tensor([[2, 3, 4], [5, 2, -1], [3, -1, -1], [4, 4, 2]])
    text_lengths = torch.tensor([3, 2, 1, 3])
    with torch.no_grad():
        batch_loss = model(speech, lengths, text, text_lengths)[0]
        alone = [model(w[None], lengths[i:i + 1], text[i:i + 1], text_lengths[i:i + 1])[0]
                 for i, w in enumerate(waves)]
    assert abs(batch_loss.item() - torch.stack(alone).mean().item()) < TOL


def test_llm_asr_scores_and_generation_do_not_depend_on_the_batch(tiny_llm_dir):
    from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor
    from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
    from espnet_llm_entropy.models.llm_asr import LLMASRModel
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    torch.manual_seed(0)
    llm = HFCausalLM(str(tiny_llm_dir), train_mode="lora", lora_conf={"r": 4, "alpha": 8, "dropout": 0.0})
    enc = _speech_encoder()
    adaptor = FrameStackMLPAdaptor(enc.output_size(), llm.hidden_size, stack=4)
    phones = ["<blank>", "<unk>", "a1"]
    model = LLMASRModel(len(phones), phones, enc, adaptor, llm, load_llm_tokenizer(tiny_llm_dir),
                        ctc_weight=0.3, ctc_head_hidden_size=16).eval()
    waves, speech, lengths = _waves(LENGTHS[:5])
    texts = ["hello world", "你好", "open the door please", "good", "明天 见"]
    ids = [model.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    tokens = torch.nn.utils.rnn.pad_sequence([torch.tensor(r) for r in ids], batch_first=True,
                                             padding_value=-1)
    tok_lengths = torch.tensor([len(r) for r in ids])
    with torch.no_grad():
        # training path: right-padded teacher forcing, per-utterance NLL
        emb, emb_lengths, _, _ = model.speech_embeddings(speech, lengths)
        nll, _, row = model.transcript_nll(emb, emb_lengths, tokens, tok_lengths)
        hyps, scores = model.generate(speech, lengths, max_new_tokens=6)
        for i, w in enumerate(waves):
            e1, l1, _, _ = model.speech_embeddings(w[None], lengths[i:i + 1])
            n1, _, _ = model.transcript_nll(e1, l1, tokens[i:i + 1, : tok_lengths[i]], tok_lengths[i:i + 1])
            assert (n1 - nll[row == i]).abs().max() < TOL
            # inference path: left-padded generation
            h1, s1 = model.generate(w[None], lengths[i:i + 1], max_new_tokens=6)
            assert h1[0] == hyps[i] and abs(s1[0] - scores[i]) < TOL
