"""Benchmark: cost of verifying, loading and hot-swapping an encoder version, and the step-time dip.

Uses the real code paths: ``espnet_llm_entropy.train.encoder_versions``
(``publish_encoder_version``, ``read_published_versions`` with sha256
verification, ``load_encoder_version``), ``models.encoder_checkpoint``
(``check_encoder_state``) and ``train.hot_swap.HotSwapConsumer`` in ``live``
mode (no probe set, so no CKA is computed at the swap).

1. Cost of each phase, median of ``--repeat`` runs on a published version:
   listing + sha256 verification of the record and weights, checksum-verified
   ``weights_only`` load, key/shape check, ``load_state_dict`` into the model
   (the swap proper).
2. Dip: IA-SFT-like training (encoder frozen, adaptor + LoRA train) with
   ``HotSwapConsumer.before_step`` called before every step
   (``check_interval`` 1, the worst case for polling); a new version is
   published half-way. Reported: median step time without a swap, the time
   of the step that swapped, and the extra time of that step.

Run on demand (not part of the tests)::

    python bench/bench_hot_swap.py --quick
    python bench/bench_hot_swap.py --size smollm2 --steps 12
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, build_ours, llm_dir_for, make_batches, to_device, trainable_parameters,
    vocab_range,
)
from bench_measure import (  # noqa: E402
    add_device_arguments, format_table, machine_description, setup_device, synchronize,
)

LOG = logging.getLogger("bench_hot_swap")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="training steps of the dip run")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each phase")
    parser.add_argument("--features", action="store_true")
    parser.add_argument("--work-dir", default="/tmp/bench_llms")
    return parser


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def perturbed_state(encoder: torch.nn.Module, seed: int) -> Dict[str, torch.Tensor]:
    """A new 'version' of the encoder: its weights plus small noise."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in encoder.state_dict().items():
        v = v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()
        out[k] = v + 1e-3 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
    return out


def phase_costs(model, publish_dir: Path, repeat: int, device) -> List[Dict[str, object]]:
    from espnet_llm_entropy.models.encoder_checkpoint import check_encoder_state
    from espnet_llm_entropy.train.encoder_versions import (
        load_encoder_version, publish_encoder_version, read_published_versions,
    )

    enc = model.speech_encoder
    state = perturbed_state(enc, 1)
    times: Dict[str, List[float]] = {"publish (write + sha256)": [], "list + verify sha256": [],
                                     "load (read + sha256 + torch.load)": [],
                                     "check keys/shapes": [], "load_state_dict (swap)": []}
    nbytes = 0
    for i in range(repeat):
        version = 100 + i
        times["publish (write + sha256)"].append(_timed(
            lambda: publish_encoder_version(publish_dir, state, version, 1000 * version, 0.9, None)))
        holder = {}
        times["list + verify sha256"].append(_timed(
            lambda: holder.update(recs=read_published_versions(publish_dir, verify=True)[0])))
        record = [r for r in holder["recs"] if r.version == version][0]
        nbytes = (publish_dir / record.weights).stat().st_size
        times["load (read + sha256 + torch.load)"].append(_timed(
            lambda: holder.update(state=load_encoder_version(publish_dir, record))))
        times["check keys/shapes"].append(_timed(
            lambda: check_encoder_state(enc, holder["state"], record.weights)))

        def swap():
            enc.load_state_dict(holder["state"], strict=True)
            synchronize(device)

        times["load_state_dict (swap)"].append(_timed(swap))
        (publish_dir / record.weights).unlink()  # keep later listings to one live version
        (publish_dir / f"encoder_v{version}.json").unlink()
    rows = [{"phase": k, "median ms": 1000 * statistics.median(v), "max ms": 1000 * max(v),
             "MB": nbytes / 1e6} for k, v in times.items()]
    total = sum(r["median ms"] for r in rows[1:])
    rows.append({"phase": "verify + load + swap (sum)", "median ms": total, "max ms": None,
                 "MB": nbytes / 1e6})
    return rows


def dip_run(model, batches, publish_dir: Path, exp_dir: Path, steps: int, device):
    from espnet_llm_entropy.train.encoder_versions import publish_encoder_version
    from espnet_llm_entropy.train.hot_swap import HotSwapConfig, HotSwapConsumer

    for p in model.speech_encoder.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(trainable_parameters(model), lr=1e-5)
    publish_encoder_version(publish_dir, perturbed_state(model.speech_encoder, 2), 1, 1000, None, None)
    conf = HotSwapConfig(publish_dir=str(publish_dir), mode="live", initial_version=1,
                         check_interval=1, wait_timeout_s=10)
    consumer = HotSwapConsumer(conf, None, exp_dir, model.speech_encoder, device=device.type)
    consumer.start(0)
    swap_at = steps // 2

    class _Reporter:  # stands in for ESPnet's SubReporter
        @staticmethod
        def register(stats):
            pass

    step_times, hook_times = [], []
    for step in range(1, steps + 1):
        if step == swap_at:  # the pretraining job publishes v2 between two steps
            publish_encoder_version(publish_dir, perturbed_state(model.speech_encoder, 3), 2,
                                    2000, 0.95, 1)
        batch = batches[step % len(batches)]
        synchronize(device)
        start = time.perf_counter()
        consumer.before_step(step, _Reporter, None, 1)
        synchronize(device)
        hooked = time.perf_counter()
        loss, _, _ = model(**batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        synchronize(device)
        end = time.perf_counter()
        step_times.append(end - start)
        hook_times.append(hooked - start)
    if consumer.current != 2:
        raise RuntimeError("the hot swap did not happen during the dip run")
    others = [t for i, t in enumerate(step_times) if i + 1 != swap_at]
    hooks = [t for i, t in enumerate(hook_times) if i + 1 != swap_at]
    base = statistics.median(others)
    return [{
        "steps": steps, "swap at step": swap_at,
        "median step s (no swap)": base, "swap step s": step_times[swap_at - 1],
        "extra s at swap": step_times[swap_at - 1] - base,
        "dip (% of one step)": 100 * (step_times[swap_at - 1] - base) / base,
        "before_step hook ms (no swap, median)": 1000 * statistics.median(hooks),
        "before_step hook ms (swap)": 1000 * hook_times[swap_at - 1],
    }]


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.steps, args.repeat = min(args.steps, 6), min(args.repeat, 2)
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    model = build_ours(size, llm_dir, "lora", waveform=not args.features)
    model = model.to(device=device, dtype=dtype).train()
    lo, hi = vocab_range(model)
    spec = BatchSpec(args.batch_size, waveform=not args.features, n_mels=size.n_mels)
    batches = [to_device(b, device, dtype) for b in make_batches(spec, 4, lo, hi)]
    n_params = sum(p.numel() for p in model.speech_encoder.parameters())
    with tempfile.TemporaryDirectory(prefix="bench_hot_swap_") as tmp:
        tmp = Path(tmp)
        (tmp / "exp").mkdir()
        costs = phase_costs(model, tmp / "costs", args.repeat, device)
        dip = dip_run(model, batches, tmp / "publish", tmp / "exp", args.steps, device)
    print(f"\n## hot swap, size={args.size} (encoder {n_params / 1e6:.2f} M parameters), "
          f"dtype={args.dtype}, device={args.device}")
    print(f"machine: {machine_description(device)}\n")
    print(format_table(costs, ["phase", "median ms", "max ms", "MB"]))
    print()
    print(format_table(dip, list(dip[0].keys())))


if __name__ == "__main__":
    main()
