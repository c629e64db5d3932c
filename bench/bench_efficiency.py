"""Benchmark: achieved FLOP/s of an LLM-ASR training step against the machine's matmul peak.

FLOPs are counted, not estimated: one forward + backward of the measured
step runs under ``torch.utils.flop_counter.FlopCounterMode``, which counts
every matrix product and convolution (mm, addmm, bmm, conv, scaled dot
product attention) with its real shapes, so LoRA (no base-weight
gradients), the LM head on predicted positions only and the padding are all
accounted for as executed. The optimizer step is timed but adds no counted
FLOPs. The analytic ``6 * LLM params * LLM tokens`` of a full fine-tuning
step is printed next to it for reference.

The peak is the best (n x n) @ (n x n) matmul rate measured in the same
run, same device and dtype (``--peak-size``). Two scopes are reported:

* ``step``: the whole training step (encoder + adaptor + LLM + optimizer);
* ``llm``: the LLM part alone (prompt assembly, transformer body, LM head
  on predicted positions, cross-entropy, backward), fed fixed adaptor
  outputs, which is what the paper-size goal is about.

Run on demand (not part of the tests)::

    python bench/bench_efficiency.py --quick
    python bench/bench_efficiency.py --size smollm2 --steps 3
    python bench/bench_efficiency.py --size paper --device cuda --dtype bf16 --features \\
        --batch-size 32 --train-mode full
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, build_ours, llm_dir_for, make_batches, to_device, trainable_parameters,
    vocab_range,
)
from bench_measure import (  # noqa: E402
    StepTimer, add_device_arguments, format_table, machine_description, measure_matmul_peak,
    setup_device,
)

LOG = logging.getLogger("bench_efficiency")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--train-mode", default="lora", choices=["lora", "full", "frozen"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--features", action="store_true",
                        help="80-dim feature input instead of waveforms (no fbank frontend)")
    parser.add_argument("--scopes", nargs="+", default=["step", "llm"], choices=["step", "llm"])
    parser.add_argument("--peak-size", type=int, default=0,
                        help="matmul size for the peak (default 2048 on CPU, 8192 on CUDA)")
    parser.add_argument("--work-dir", default="/tmp/bench_llms")
    return parser


def count_flops(fn) -> int:
    """FLOPs of the matrix products/convolutions executed by ``fn()``."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def llm_part_inputs(model, batch):
    """Fixed adaptor outputs (requiring grad) to feed the LLM part alone."""
    with torch.no_grad():
        emb, emb_lengths, _, _ = model.speech_embeddings(batch["speech"], batch["speech_lengths"])
    return emb.detach().requires_grad_(True), emb_lengths


def run(args) -> List[Dict[str, object]]:
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    waveform = not args.features
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    model = build_ours(size, llm_dir, args.train_mode, waveform).to(device=device, dtype=dtype)
    model.train()
    params = trainable_parameters(model)
    opt = torch.optim.Adam(params, lr=1e-5, foreach=True)
    lo, hi = vocab_range(model)
    spec = BatchSpec(args.batch_size, args.min_seconds, args.max_seconds, waveform=waveform,
                     n_mels=size.n_mels)
    batches = [to_device(b, device, dtype) for b in make_batches(spec, max(2, args.steps), lo, hi)]
    llm_params = sum(p.numel() for n, p in model.llm.named_parameters() if "lora_" not in n)

    def full_step(batch):
        loss, _, _ = model(**batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    llm_inputs = {id(b): llm_part_inputs(model, b) for b in batches} if "llm" in args.scopes else {}

    def llm_step(batch):
        emb, emb_lengths = llm_inputs[id(batch)]
        nll, _, _ = model.transcript_nll(emb, emb_lengths, batch["llm_tokens"],
                                         batch["llm_tokens_lengths"])
        opt.zero_grad(set_to_none=True)
        (nll.sum() / emb.size(0)).backward()
        opt.step()

    def llm_tokens(batch) -> int:
        enc_len = model.encode(batch["speech"], batch["speech_lengths"])[1]
        speech = torch.div(enc_len + model.adaptor.stack - 1, model.adaptor.stack,
                           rounding_mode="floor")
        fixed = model.prompt_before_ids.numel() + model.prompt_after_ids.numel()
        return int((speech + fixed + batch["llm_tokens_lengths"]).sum())

    peak_size = args.peak_size or (8192 if device.type == "cuda" else 2048)
    peak = measure_matmul_peak(device, dtype, peak_size)
    rows = []
    for scope in args.scopes:
        fn = full_step if scope == "step" else llm_step
        for i in range(args.warmup):
            fn(batches[i % len(batches)])
        flops = sum(count_flops(lambda b=b: fn(b)) for b in batches[: args.steps])
        timer = StepTimer(device)
        for b in batches[: args.steps]:
            with timer.step():
                fn(b)
        with torch.no_grad():
            tokens = sum(llm_tokens(b) for b in batches[: args.steps])
        achieved = flops / timer.total
        rows.append({
            "scope": scope, "train mode": args.train_mode, "steps": args.steps,
            "GFLOP/step (counted)": flops / args.steps / 1e9,
            "GFLOP/step 6NT (LLM, full FT)": 6 * llm_params * tokens / args.steps / 1e9,
            "step s": timer.total / args.steps, "achieved TFLOP/s": achieved / 1e12,
            "matmul peak TFLOP/s": peak / 1e12, "% of peak": 100 * achieved / peak,
        })
    peak_again = measure_matmul_peak(device, dtype, peak_size)
    for r in rows:
        r["peak after TFLOP/s"] = peak_again / 1e12
    return rows


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.steps, args.warmup = min(args.steps, 2), 1
    rows = run(args)
    print(f"\n## efficiency, size={args.size}, batch={args.batch_size}, "
          f"{args.min_seconds}-{args.max_seconds} s, dtype={args.dtype}, device={args.device}")
    print(f"machine: {machine_description(torch.device(args.device))}\n")
    print(format_table(rows, ["scope", "train mode", "steps", "GFLOP/step (counted)",
                              "GFLOP/step 6NT (LLM, full FT)", "step s", "achieved TFLOP/s",
                              "matmul peak TFLOP/s", "peak after TFLOP/s", "% of peak"]))


if __name__ == "__main__":
    main()
