"""A conformer whose conv2d subsampling has fewer channels than the model is wide.

ESPnet's ``conv2d`` input layer (``Conv2dSubsampling``: two 3x3 stride-2
convolutions, then a linear projection) gives both convolutions
``output_size`` channels. In a small conformer on a CPU that input layer is
the costliest single part: for the demo's 2 x 96 encoder it took about 38%
of a pretraining update, although it only has to map 40 log-mel bins to
25 Hz frames. This encoder keeps ESPnet's ``Conv2dSubsampling`` (so its
mask arithmetic, ``--print_config`` and the padding-invariance hooks of
:mod:`padding_invariance` apply unchanged) and rebuilds its two
convolutions with ``subsampling_channels`` channels, followed by the
projection to ``output_size``. Everything after the input layer is ESPnet's
``ConformerEncoder``.

Registered in ESPnet's ``encoder_choices`` as ``thin_subsampling_conformer``::

    encoder: thin_subsampling_conformer
    encoder_conf: {subsampling_channels: 32, output_size: 96, num_blocks: 2, ...}
"""

from __future__ import annotations

from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from torch import nn


def conv2d_subsampled_bins(input_size: int) -> int:
    """Frequency bins left after two 3x3 stride-2 convolutions without padding (40 -> 9)."""
    return ((input_size - 1) // 2 - 1) // 2


class ThinSubsamplingConformerEncoder(ConformerEncoder):
    """ESPnet's conformer with a ``subsampling_channels``-wide conv2d (4x) input layer.

    Input (B, T, F) features; output (B, T', D) with ESPnet's conv2d lengths
    ``T' = ((T - 1) // 2 - 1) // 2``.

    Args:
        input_size: feature size F (e.g. 40 log-mel bins, at least 7).
        subsampling_channels: channels of both subsampling convolutions
            (ESPnet's ``conv2d`` uses ``output_size``).
        **conformer_conf: any option of ESPnet's ``ConformerEncoder``
            (``output_size``, ``num_blocks``, ``cnn_module_kernel`` ...);
            ``input_layer`` is always ``conv2d``.
    """

    def __init__(self, input_size: int, subsampling_channels: int = 32, **conformer_conf):
        if not isinstance(subsampling_channels, int) or subsampling_channels < 1:
            raise ValueError(
                f"encoder_conf.subsampling_channels must be an integer >= 1, got {subsampling_channels!r}"
            )
        layer = conformer_conf.pop("input_layer", "conv2d")
        if layer != "conv2d":
            raise ValueError(
                f"encoder_conf.input_layer of thin_subsampling_conformer is always 'conv2d' "
                f"(its channels are set by subsampling_channels), got {layer!r}"
            )
        if conv2d_subsampled_bins(input_size) < 1:
            raise ValueError(f"thin_subsampling_conformer needs at least 7 feature bins, got input_size={input_size}")
        super().__init__(input_size, input_layer="conv2d", **conformer_conf)
        channels = subsampling_channels
        self.embed.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, 2), nn.ReLU(), nn.Conv2d(channels, channels, 3, 2), nn.ReLU()
        )
        self.embed.out[0] = nn.Linear(channels * conv2d_subsampled_bins(input_size), self.output_size())
        self.subsampling_channels = channels
