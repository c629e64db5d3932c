"""Benchmark: one GRPO update of our LLM-ASR model, and how it grows with the group size G.

One update = the grpo stage's training forward (encode, sample G hypotheses
per utterance with the KV cache, score them, the reference policy's and the
current policy's teacher-forced log-probabilities) + backward + Adam. The
forward's phases come from ``GRPOStep.last_timings``; backward and the
optimizer step are timed here. Group sizes are measured round-robin in one
run (one update of each G in turn), so machine noise hits every G alike;
the ratio column divides each G's median update time by the smallest G's.

The weights are random, so the LLM rarely samples EOS and every hypothesis
runs to the token budget (``grpo_conf.length_slack`` x the reference
length): the sampling cost measured here is the upper end of what a
trained model pays.

Run on demand (not part of the tests)::

    python bench/bench_grpo_step.py --quick
    python bench/bench_grpo_step.py --size tiny --groups 2 4 8 --steps 5
    python bench/bench_grpo_step.py --size smollm2 --groups 2 4 8 --steps 3
    python bench/bench_grpo_step.py --size smollm2 --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, build_ours, llm_dir_for, make_batches, to_device, trainable_parameters, vocab_range,
)
from bench_measure import add_device_arguments, format_table, machine_description, setup_device, synchronize  # noqa: E402

PHASES = ("encode", "sample", "reward", "reference", "policy")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--train-mode", default="lora", choices=("lora", "full"),
                        help="LLM training mode (the demo's tiny LLM trains fully, recipes use LoRA)")
    parser.add_argument("--groups", type=int, nargs="+", default=[2, 4, 8], help="group sizes G")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4, help="measured updates per G")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=5.0)
    parser.add_argument("--kl-coef", type=float, default=0.04)
    parser.add_argument("--work-dir", default="/tmp/bench_llms",
                        help="where LLM directories are built once and reused")
    return parser


def build_grpo_model(size, llm_dir: Path, train_mode: str, group: int, kl_coef: float, device, dtype):
    """Our model in the grpo stage (adaptor + LLM train) with G = ``group``."""
    from espnet_llm_entropy.rl.grpo_objective import GRPOConfig
    from espnet_llm_entropy.train.stage_schedule import apply_training_stage, parse_stage_schedule

    model = build_ours(size, llm_dir, train_mode)
    apply_training_stage(model, parse_stage_schedule(None)["grpo"])
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    model.enable_grpo(GRPOConfig(num_samples=group, kl_coef=kl_coef), names)
    return model.to(device=device, dtype=dtype).train()


def grpo_update(model, batch: Dict[str, torch.Tensor], optimizer, device) -> Dict[str, float]:
    """One update; returns the forward's phases plus ``backward`` and ``total`` (seconds)."""
    synchronize(device)
    start = time.perf_counter()
    loss, stats, _ = model(**batch)
    synchronize(device)
    mid = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    synchronize(device)
    end = time.perf_counter()
    return {**model.grpo.last_timings, "backward": end - mid, "total": end - start,
            "gen_len": float(stats["gen_len"])}


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.groups, args.steps, args.warmup, args.batch_size = [2, 4], 1, 0, 2
        args.min_seconds, args.max_seconds = 1.0, 2.0
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    models = {g: build_grpo_model(size, llm_dir, args.train_mode, g, args.kl_coef, device, dtype)
              for g in args.groups}
    optimizers = {g: torch.optim.Adam(trainable_parameters(m), lr=1e-5) for g, m in models.items()}
    lo, hi = vocab_range(models[args.groups[0]])
    spec = BatchSpec(batch_size=args.batch_size, min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                     n_mels=size.n_mels)
    batches = [to_device(b, device, dtype) for b in make_batches(spec, args.warmup + args.steps, lo, hi)]
    runs: Dict[int, List[Dict[str, float]]] = {g: [] for g in args.groups}
    for i, batch in enumerate(batches):
        for g in args.groups:  # round-robin: every G sees the same batches and the same machine noise
            result = grpo_update(models[g], batch, optimizers[g], device)
            if i >= args.warmup:
                runs[g].append(result)
    base = statistics.median(r["total"] for r in runs[args.groups[0]])
    columns = ["G", "update s", "sampling s (share)", "reference s", "policy fwd s", "backward+Adam s",
               "encode+reward s", "tokens/hyp", "hyps/s", f"x G={args.groups[0]}"]
    rows = []
    for g in args.groups:
        med = {k: statistics.median(r[k] for r in runs[g]) for k in (*PHASES, "backward", "total", "gen_len")}
        rows.append(dict(zip(columns, [
            str(g), f"{med['total']:.2f}", f"{med['sample']:.2f} ({100 * med['sample'] / med['total']:.0f}%)",
            f"{med['reference']:.2f}", f"{med['policy']:.2f}", f"{med['backward']:.2f}",
            f"{med['encode'] + med['reward']:.2f}", f"{med['gen_len']:.1f}",
            f"{args.batch_size * g / med['total']:.1f}", f"{med['total'] / base:.2f}",
        ])))
    print(f"# GRPO update, size {args.size} ({args.train_mode}), batch {args.batch_size}, "
          f"{args.min_seconds}-{args.max_seconds} s utterances, median of {args.steps} updates")
    print(f"# {machine_description(device)}")
    print(format_table(rows, columns))


if __name__ == "__main__":
    main()
