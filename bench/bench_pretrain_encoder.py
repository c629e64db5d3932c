"""Benchmark: one phoneme CR-CTC pretraining update with the tiny preset's encoder choices.

Builds the demo's pretraining model from ``conf/tiny/pretrain_phoneme_ctc.yaml``
three ways and times forward + backward + Adam on the same synthetic batch
(16 utterances of 2.6-2.75 s, the demo corpus' mean length, random phone
targets), steps interleaved round-robin so that machine noise hits every
variant alike:

* ``conv2d-96``: ESPnet's ``conformer`` with its ``conv2d`` input layer (96
  channels, the width of the model) and dropout 0.1 in the encoder and the
  head: the preset before the change;
* ``thin-32``: ``thin_subsampling_conformer`` with 32 subsampling channels,
  dropout as before;
* ``thin-32-nodrop``: the same without dropout: the preset now.

Prints the median seconds per update, each variant's speed-up over
``conv2d-96`` and the share of CPU time the host of a virtual machine gave
to other guests while the benchmark ran (it slows every variant alike).

Run on demand (not part of the tests)::

    python bench/bench_pretrain_encoder.py
    python bench/bench_pretrain_encoder.py --steps 30 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_measure import StepTimer, format_table  # noqa: E402

VARIANTS = ("conv2d-96", "thin-32", "thin-32-nodrop")


def variant_config(preset: dict, variant: str) -> dict:
    """The preset's options with the encoder and dropout of ``variant``."""
    conf = copy.deepcopy(preset)
    encoder_conf = {k: v for k, v in conf["encoder_conf"].items()
                    if k not in ("subsampling_channels", "dropout_rate", "positional_dropout_rate")}
    conf["model_conf"] = {k: v for k, v in conf["model_conf"].items() if k != "head_dropout"}
    if variant == "conv2d-96":
        conf["encoder"], conf["encoder_conf"] = "conformer", {**encoder_conf, "input_layer": "conv2d"}
    else:
        conf["encoder"], conf["encoder_conf"] = "thin_subsampling_conformer", {**encoder_conf, "subsampling_channels": 32}
    if variant.endswith("nodrop"):
        conf["encoder_conf"].update(dropout_rate=0.0, positional_dropout_rate=0.0)
        conf["model_conf"]["head_dropout"] = 0.0
    return conf


def build(conf: dict, work_dir: Path):
    """The model ESPnet's parser builds from ``conf`` (written as a config file), in training mode."""
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    config, tokens = work_dir / "config.yaml", work_dir / "tokens.txt"
    config.write_text(yaml.safe_dump(conf))
    tokens.write_text("\n".join(["<blank>"] + [f"p{i}" for i in range(60)] + ["<sos/eos>"]) + "\n")
    args = LLMASRTask.get_parser().parse_args(["--config", str(config), "--token_list", str(tokens)])
    model = LLMASRTask.build_model(args)
    model.train()
    return model, torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-4)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=15, help="measured updates per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)

    import espnet_llm_entropy
    from espnet_llm_entropy.conf import preset_dir
    from espnet_llm_entropy.machine_info import cpu_description, cpu_time_counters, stolen_percent

    espnet_llm_entropy.register()
    torch.set_num_threads(args.threads)
    preset = yaml.safe_load((preset_dir("tiny") / "pretrain_phoneme_ctc.yaml").read_text())
    g = torch.Generator().manual_seed(0)
    lengths = torch.linspace(44000, 41600, 16).long()  # 2.75-2.6 s at 16 kHz
    batch = dict(speech=torch.randn(16, 44000, generator=g) * 0.1, speech_lengths=lengths,
                 text=torch.randint(1, 61, (16, 25), generator=g), text_lengths=torch.full((16,), 25))

    systems = {}
    with tempfile.TemporaryDirectory() as work_dir:
        for name in VARIANTS:
            torch.manual_seed(0)
            systems[name] = build(variant_config(preset, name), Path(work_dir))
    timers = {name: StepTimer(torch.device("cpu")) for name in VARIANTS}

    def update(name):
        model, optim = systems[name]
        loss, _, _ = model(**batch)
        loss.backward()
        optim.step()
        optim.zero_grad()

    for _ in range(args.warmup):
        for name in VARIANTS:
            update(name)
    before = cpu_time_counters()
    for _ in range(args.steps):
        for name in VARIANTS:
            with timers[name].step():
                update(name)
    stolen = stolen_percent(before, cpu_time_counters())
    base = timers["conv2d-96"].median
    rows = [dict(variant=name, s_per_update=timers[name].median, speedup=base / timers[name].median,
                 parameters=sum(p.numel() for p in systems[name][0].parameters())) for name in VARIANTS]
    print(f"machine: {cpu_description()}, {args.threads} torch threads; "
          f"CPU stolen by other guests during the run: {'n/a' if stolen is None else f'{stolen:.1f}%'}")
    print(format_table(rows, ["variant", "s_per_update", "speedup", "parameters"]))


if __name__ == "__main__":
    main()
