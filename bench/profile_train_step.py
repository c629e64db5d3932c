"""Profile training steps of one benchmark system with torch.profiler (where does the time go?).

Prints the top operators by self device time (CUDA) or self CPU time, the
CPU-side wall time of the step and, on CUDA, the total kernel time, so that
launch/overhead-bound steps (kernel time much smaller than wall time) are
told apart from compute-bound ones.

Run on demand::

    python bench/profile_train_step.py --size smollm2 --system ours-lora --threads 1
    python bench/profile_train_step.py --size paper --system ours-lora --device cuda \\
        --dtype bf16 --features --batch-size 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, llm_dir_for, make_batches, to_device, trainable_parameters, vocab_range,
)
from bench_measure import add_device_arguments, setup_device, synchronize  # noqa: E402
from bench_train_step import SYSTEMS, build_system, train_step  # noqa: E402


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--system", default="ours-lora", choices=SYSTEMS)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--features", action="store_true")
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--work-dir", default="/tmp/bench_llms")
    return parser


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    model, view = build_system(args.system, size, llm_dir, not args.features, device, dtype, {})
    opt = torch.optim.Adam(trainable_parameters(model), lr=1e-5)
    tok_model = model if hasattr(model, "tokenizer") else None
    lo, hi = vocab_range(tok_model) if tok_model else (3, 400)
    spec = BatchSpec(args.batch_size, args.min_seconds, args.max_seconds,
                     waveform=not args.features, n_mels=size.n_mels)
    batch = to_device(make_batches(spec, 1, lo, hi)[0], device, dtype)
    for _ in range(2):
        train_step(model, view(batch), opt)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    synchronize(device)
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        train_step(model, view(batch), opt)
        synchronize(device)
    wall = time.perf_counter() - start
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    averages = prof.key_averages()
    print(averages.table(sort_by=key, row_limit=args.rows))
    line = f"{args.system}: step wall {wall:.3f} s under the profiler"
    if device.type == "cuda":
        kernel_us = sum(e.self_device_time_total for e in averages)
        line += f", device kernel time {kernel_us / 1e6:.3f} s"
    print(line)


if __name__ == "__main__":
    main()
