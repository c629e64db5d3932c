import pytest
import torch

from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor


def test_output_length_is_ceil_of_stacked_frames():
    ad = FrameStackMLPAdaptor(input_size=8, output_size=16, stack=4)
    x = torch.randn(2, 10, 8)
    out, lengths = ad(x, torch.tensor([10, 5]))
    assert out.shape == (2, 3, 16)
    assert lengths.tolist() == [3, 2]


def test_frames_past_the_end_do_not_change_valid_outputs():
    torch.manual_seed(0)
    ad = FrameStackMLPAdaptor(input_size=4, output_size=6, stack=4).eval()
    x = torch.randn(1, 8, 4)
    lengths = torch.tensor([6])
    out1, _ = ad(x, lengths)
    x2 = x.clone()
    x2[:, 6:] = 1e3  # garbage in the padding
    out2, _ = ad(x2, lengths)
    assert torch.allclose(out1, out2)


def test_stacking_groups_consecutive_frames():
    ad = FrameStackMLPAdaptor(input_size=1, output_size=1, stack=2)
    with torch.no_grad():  # make the MLP an identity on the first stacked frame
        ad.mlp[0].weight.zero_(); ad.mlp[0].bias.zero_(); ad.mlp[0].weight[0, 0] = 1.0
        ad.mlp[2].weight.zero_(); ad.mlp[2].bias.zero_(); ad.mlp[2].weight[0, 0] = 1.0
    x = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])
    out, _ = ad(x, torch.tensor([4]))
    # GELU(1), GELU(3): the first frame of each pair
    assert torch.allclose(out[0, :, 0], torch.nn.functional.gelu(torch.tensor([1.0, 3.0])))


def test_bad_stack_raises():
    with pytest.raises(ValueError, match="stack"):
        FrameStackMLPAdaptor(4, 4, stack=0)
