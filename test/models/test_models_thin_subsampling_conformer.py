"""The thin-subsampling conformer (conf/tiny's encoder)."""

import pytest
import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

from espnet_llm_entropy.models.thin_subsampling_conformer import (
    ThinSubsamplingConformerEncoder,
    conv2d_subsampled_bins,
)
from espnet_llm_entropy.testing.tiny_components import tiny_encoder_conf


def test_frames_and_lengths_equal_those_of_espnet_conv2d():
    torch.manual_seed(0)
    thin = ThinSubsamplingConformerEncoder(input_size=40, subsampling_channels=8, **tiny_encoder_conf()).eval()
    wide = ConformerEncoder(input_size=40, **tiny_encoder_conf()).eval()
    feats = torch.randn(3, 101, 40)
    lengths = torch.tensor([101, 80, 7])
    with torch.no_grad():
        out, out_lengths, _ = thin(feats, lengths)
        ref, ref_lengths, _ = wide(feats, lengths)
    assert out.shape == ref.shape == (3, 24, 32)
    assert torch.equal(out_lengths, ref_lengths)
    assert out_lengths[0] == ((101 - 1) // 2 - 1) // 2  # the unpadded row: the convolutions' arithmetic


def test_the_subsampling_convolutions_have_the_asked_channels():
    enc = ThinSubsamplingConformerEncoder(input_size=40, subsampling_channels=8, **tiny_encoder_conf())
    convs = [m for m in enc.embed.conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 8), (8, 8)]
    assert enc.embed.out[0].in_features == 8 * conv2d_subsampled_bins(40) == 72
    wide = ConformerEncoder(input_size=40, **tiny_encoder_conf())
    thin_params = sum(p.numel() for p in enc.embed.parameters())
    assert thin_params < sum(p.numel() for p in wide.embed.parameters()) / 3


def test_gradients_reach_the_subsampling_convolutions():
    enc = ThinSubsamplingConformerEncoder(input_size=20, subsampling_channels=4, **tiny_encoder_conf())
    out, _, _ = enc(torch.randn(2, 40, 20), torch.tensor([40, 30]))
    out.sum().backward()
    assert enc.embed.conv[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("bad, key", [
    (dict(subsampling_channels=0), "subsampling_channels"),
    (dict(subsampling_channels=2.5), "subsampling_channels"),
    (dict(input_layer="linear"), "input_layer"),
])
def test_bad_options_name_the_option(bad, key):
    conf = {**tiny_encoder_conf(), **bad}
    with pytest.raises(ValueError, match=f"encoder_conf.{key}"):
        ThinSubsamplingConformerEncoder(input_size=20, **conf)


def test_too_few_feature_bins_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 7 feature bins"):
        ThinSubsamplingConformerEncoder(input_size=5, **tiny_encoder_conf())


def test_registered_in_espnet_encoder_choices_and_built_from_the_tiny_preset(tmp_path):
    import espnet_llm_entropy
    from espnet_llm_entropy.conf import preset_dir
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    espnet_llm_entropy.register()
    from espnet2.tasks.asr import encoder_choices

    assert encoder_choices.get_class("thin_subsampling_conformer") is ThinSubsamplingConformerEncoder
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\na\nb\n<sos/eos>\n")
    config = preset_dir("tiny") / "pretrain_phoneme_ctc.yaml"
    args = LLMASRTask.get_parser().parse_args(["--config", str(config), "--token_list", str(tokens)])
    assert args.encoder == "thin_subsampling_conformer"
    model = LLMASRTask.build_model(args)
    assert isinstance(model.speech_encoder.encoder, ThinSubsamplingConformerEncoder)
    assert model.speech_encoder.encoder.subsampling_channels == 32
