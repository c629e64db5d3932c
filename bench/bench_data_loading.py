"""Benchmark: does ESPnet's data pipeline keep the LLM-ASR training step fed?

Builds the training iterator the way ``LLMASRTask`` training does, from
ESPnet's own pieces: ``ESPnetDataset`` over the mini corpus' ``wav.scp``
(sound) and ``text`` with our ``LLMASRPreprocessor`` (phones for the CTC
stream + LLM token ids), a ``sorted`` batch sampler over a speech-shape file,
``CommonCollateFn`` and ``SequenceIterFactory`` (a torch DataLoader). It
then runs training steps of our model (the tiny size of the benchmarks) and
measures, per step, the time spent waiting for the next batch (loader) and
the time of the step itself, with ``--num-workers`` 0 (loading in the
training process) and N (background workers).

Needs the mini corpus, made once (about a minute)::

    python -m espnet_llm_entropy.bin.make_mini_corpus --out_dir /tmp/bench_corpus

Run on demand (not part of the tests)::

    python bench/bench_data_loading.py --quick
    python bench/bench_data_loading.py --corpus /tmp/bench_corpus --workers 0 2
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
    SIZES, build_ours, llm_dir_for, to_device, trainable_parameters,
)
from bench_measure import (  # noqa: E402
    add_device_arguments, format_table, machine_description, setup_device, synchronize,
)

LOG = logging.getLogger("bench_data_loading")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--corpus", default="/tmp/bench_corpus",
                        help="output dir of make_mini_corpus (uses its train/ split)")
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=0, help="steps per setting (0: one epoch)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--work-dir", default="/tmp/bench_llms")
    return parser


def speech_shape_file(data_dir: Path, out: Path) -> Path:
    """``uttid num_samples`` from ``utt2dur`` (what collect_stats writes as speech_shape)."""
    lines = []
    for line in (data_dir / "utt2dur").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        utt, dur = line.split()
        lines.append(f"{utt} {int(round(float(dur) * 16000))}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def phone_inventory(data_dir: Path, out_dir: Path) -> Path:
    """Phone list of the training transcripts, made with our text_to_phones tool."""
    from espnet_llm_entropy.pipeline import espnet_steps

    phones = out_dir / "phones.txt"
    if not phones.is_file():
        espnet_steps.run_entry_point("text_to_phones", [
            "--in", str(data_dir / "text"), "--out", str(out_dir / "train.phn"),
            "--inventory", str(phones)])
    return phones


def build_iter_factory(data_dir: Path, work: Path, llm_dir: Path, batch_size: int,
                       num_workers: int):
    from espnet2.iterators.sequence_iter_factory import SequenceIterFactory
    from espnet2.samplers.build_batch_sampler import build_batch_sampler
    from espnet2.train.collate_fn import CommonCollateFn
    from espnet2.train.dataset import ESPnetDataset

    from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    preprocess = LLMASRPreprocessor(train=True, token_list=str(phone_inventory(data_dir, work)),
                                    llm_tokenizer=load_llm_tokenizer(llm_dir), seed=0)
    dataset = ESPnetDataset([(str(data_dir / "wav.scp"), "speech", "sound"),
                             (str(data_dir / "text"), "text", "text")], preprocess=preprocess)
    shape = speech_shape_file(data_dir, work / "speech_shape")
    sampler = build_batch_sampler("sorted", batch_size=batch_size, batch_bins=0,
                                  shape_files=[str(shape)])
    return SequenceIterFactory(dataset, sampler, seed=0, shuffle=True, num_workers=num_workers,
                               collate_fn=CommonCollateFn(float_pad_value=0.0, int_pad_value=-1))


def run_setting(model, opt, factory, steps: int, device, dtype) -> Dict[str, object]:
    waits, step_times, utts = [], [], 0
    iterator = iter(factory.build_iter(0))
    done = 0
    while not steps or done < steps:
        start = time.perf_counter()
        try:
            _, batch = next(iterator)
        except StopIteration:
            if steps:  # one more epoch
                iterator = iter(factory.build_iter(done))
                continue
            break
        batch = to_device(batch, device, dtype)
        synchronize(device)
        loaded = time.perf_counter()
        loss, _, _ = model(**batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        synchronize(device)
        waits.append(loaded - start)
        step_times.append(time.perf_counter() - loaded)
        utts += int(batch["speech"].size(0))
        done += 1
    first_wait = waits[0]
    waits_rest = waits[1:] or waits
    return {"steps": done, "utts": utts, "first batch s": first_wait,
            "loader ms/step (mean, after first)": 1000 * statistics.mean(waits_rest),
            "loader ms/step (max)": 1000 * max(waits_rest),
            "step ms (mean)": 1000 * statistics.mean(step_times),
            "loader / step %": 100 * statistics.mean(waits_rest) / statistics.mean(step_times)}


def loader_only(factory) -> Dict[str, object]:
    start = time.perf_counter()
    n = sum(1 for _ in factory.build_iter(0))
    return {"batches": n, "loader alone batches/s": n / (time.perf_counter() - start)}


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)
    device, dtype = setup_device(args)
    corpus = Path(args.corpus)
    data_dir = corpus / "train"
    if not (data_dir / "wav.scp").is_file():
        raise SystemExit(f"{data_dir}/wav.scp not found: make the corpus first with "
                         f"python -m espnet_llm_entropy.bin.make_mini_corpus --out_dir {corpus}")
    if args.quick:
        args.steps = args.steps or 4
    size = SIZES[args.size]
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    work = Path(args.work_dir) / "data_loading"
    work.mkdir(parents=True, exist_ok=True)
    model = build_ours(size, llm_dir, "lora").to(device=device, dtype=dtype).train()
    opt = torch.optim.Adam(trainable_parameters(model), lr=1e-5)
    rows: List[Dict[str, object]] = []
    for workers in args.workers:
        factory = build_iter_factory(data_dir, work, llm_dir, args.batch_size, workers)
        row = {"num_workers": workers}
        row.update(loader_only(factory))
        row.update(run_setting(model, opt, factory, args.steps, device, dtype))
        rows.append(row)
    print(f"\n## data loading, corpus={data_dir}, size={args.size}, batch={args.batch_size}, "
          f"device={args.device}")
    print(f"machine: {machine_description(device)}\n")
    print(format_table(rows, ["num_workers", "batches", "loader alone batches/s", "steps",
                              "first batch s", "loader ms/step (mean, after first)",
                              "loader ms/step (max)", "step ms (mean)", "loader / step %"]))


if __name__ == "__main__":
    main()
