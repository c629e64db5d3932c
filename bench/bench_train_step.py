"""Benchmark: one training step of our LLM-ASR model vs ESPnet's in-tree LLM-decoder model.

Same encoder weights, same LLM directory, same batches (see
``bench_components``). Each step is forward + backward + Adam over the
trainable parameters. Reported per system: utterances/s, output tokens/s
(transcript tokens + EOS), median step time, the number of LLM positions
per batch (padded B x L the LLM runs over) and the peak memory a step adds
(CPU: peak RSS above the resident size before the steps; CUDA: allocator
peak). The ratio column divides each system's utterances/s by the ESPnet
baseline's (frozen LLM), measured in the same run, steps interleaved
round-robin so that machine noise hits every system alike.

Run on demand (not part of the tests)::

    python bench/bench_train_step.py --quick
    python bench/bench_train_step.py --size tiny --steps 20
    python bench/bench_train_step.py --size smollm2 --steps 6
    python bench/bench_train_step.py --size smollm2 --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, build_espnet_baseline, build_ours, espnet_view, llm_dir_for,
    make_batches, to_device, trainable_parameters, vocab_range,
)
from bench_measure import (  # noqa: E402
    StepTimer, add_device_arguments, format_table, machine_description, setup_device,
    track_peak_memory,
)

LOG = logging.getLogger("bench_train_step")
SYSTEMS = ("ours-lora", "ours-frozen", "espnet-frozen", "espnet-full")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="measured steps per system")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--features", action="store_true",
                        help="feed 80-dim features instead of waveforms (no fbank frontend)")
    parser.add_argument("--work-dir", default="/tmp/bench_llms",
                        help="where LLM directories are built once and reused")
    return parser


def build_system(name: str, size, llm_dir: Path, waveform: bool, device, dtype, ours_cache):
    """Returns (model, batch_fn) for ``name``."""
    if name.startswith("ours"):
        model = build_ours(size, llm_dir, "lora" if name == "ours-lora" else "frozen", waveform)
        ours_cache.setdefault("model", model)
        fn = dict
    else:
        reference = ours_cache.get("model") or build_ours(size, llm_dir, "lora", waveform)
        ours_cache.setdefault("model", reference)
        model = build_espnet_baseline(reference, llm_dir, freeze_llm=name == "espnet-frozen")
        fn = espnet_view
    return model.to(device=device, dtype=dtype).train(), fn


def train_step(model, batch: Dict[str, torch.Tensor], optimizer) -> float:
    loss, _, _ = model(**batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def llm_positions(model, batch) -> int:
    """B x L of the padded LLM input for this batch (what the LLM computes over)."""
    with torch.no_grad():
        if hasattr(model, "adaptor"):
            enc_lengths = model.encode(batch["speech"], batch["speech_lengths"])[1]
            speech = torch.div(enc_lengths + model.adaptor.stack - 1, model.adaptor.stack,
                               rounding_mode="floor")
            extra = model.prompt_before_ids.numel() + model.prompt_after_ids.numel()
            lengths = speech + extra + batch["llm_tokens_lengths"]
        else:
            enc_lengths = model.encode(batch["speech"], batch["speech_lengths"])[1]
            dec = model.decoder
            lengths = enc_lengths + dec.prefix.size(1) + dec.postfix.size(1) + batch["text_lengths"]
    return int(lengths.max()) * lengths.numel()


def run(args) -> List[Dict[str, object]]:
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    waveform = not args.features
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    cache: Dict = {}
    systems = {}
    for name in args.systems:
        model, view = build_system(name, size, llm_dir, waveform, device, dtype, cache)
        opt = torch.optim.Adam(trainable_parameters(model), lr=1e-5)
        systems[name] = (model, view, opt)
    lo, hi = vocab_range(cache["model"])
    spec = BatchSpec(args.batch_size, args.min_seconds, args.max_seconds, waveform=waveform,
                     n_mels=size.n_mels)
    batches = [to_device(b, device, dtype) for b in
               make_batches(spec, max(2, args.steps), lo, hi)]
    for name, (model, view, opt) in systems.items():  # warm-up, also caches allocations
        for i in range(args.warmup):
            train_step(model, view(batches[i % len(batches)]), opt)
    timers = {name: StepTimer(device) for name in systems}
    peaks = {}
    for step in range(args.steps):
        batch = batches[step % len(batches)]
        for name, (model, view, opt) in systems.items():
            with track_peak_memory(device) as peak, timers[name].step():
                train_step(model, view(batch), opt)
            peaks[name] = max(peaks.get(name) or 0.0, peak.mib or 0.0)
    used = [batches[s % len(batches)] for s in range(args.steps)]
    utts = sum(int(b["speech_lengths"].numel()) for b in used)
    tokens = sum(int((b["llm_tokens_lengths"] + 1).sum()) for b in used)
    audio_s = sum(float(b["speech_lengths"].sum()) for b in used) / (16000 if waveform else 100)
    rows = []
    for name, (model, view, _) in systems.items():
        t = timers[name].total
        rows.append({
            "system": name, "utt/s": utts / t, "out tok/s": tokens / t,
            "audio s/s": audio_s / t, "step s (median)": timers[name].median,
            "LLM positions/batch": llm_positions(model, view(used[0])),
            "trainable params": sum(p.numel() for p in trainable_parameters(model)),
            "peak MiB": peaks.get(name),
        })
    base = next((r for r in rows if r["system"] == "espnet-frozen"), None)
    for r in rows:
        r["x vs espnet-frozen"] = r["utt/s"] / base["utt/s"] if base else None
    return rows


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.quick:
        args.steps, args.warmup = min(args.steps, 3), 1
    rows = run(args)
    device = torch.device(args.device)
    print(f"\n## training step, size={args.size}, batch={args.batch_size}, "
          f"{args.min_seconds}-{args.max_seconds} s, dtype={args.dtype}, {args.steps} steps")
    print(f"machine: {machine_description(device)}\n")
    print(format_table(rows, ["system", "utt/s", "out tok/s", "audio s/s", "step s (median)",
                              "LLM positions/batch", "trainable params", "peak MiB",
                              "x vs espnet-frozen"]))


if __name__ == "__main__":
    main()
