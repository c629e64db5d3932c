"""Benchmark: espeak-ng runs through the command line against the libespeak-ng fork server.

Speaks the same runs (Mandarin and English voices with the corpus' variants,
pitches and speeds, in a seeded random order) both ways, one after the other
in one process, checks that every run gives the same samples, and prints the
wall and CPU time of each way and their ratio. Also times ``import
espnet2.tasks.asr`` in fresh interpreters with and without typeguard's
instrumentation of ESPnet (``ESPNET_LLM_ENTROPY_TYPECHECKS``).

Run on demand (not part of the tests)::

    python bench/bench_corpus_synthesis.py --runs 300
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time

import numpy as np

from espnet_llm_entropy.corpus.espeak_fork_server import EspeakForkServer
from espnet_llm_entropy.corpus.espeak_synthesis import MANDARIN_VOICE, find_espeak
from espnet_llm_entropy.corpus.speaker_profiles import VOICE_VARIANTS
from espnet_llm_entropy.corpus.wav_io import parse_pcm16_wav_bytes

TEXTS = {"cmn": ("明天有个会议", "我们去北京", "今天天气很好", "请把文件发给我"),
         "en": ("please book a table for two", "the meeting starts at nine", "send me the report")}


def planned_runs(count: int, seed: int):
    rng = random.Random(seed)
    runs = []
    for _ in range(count):
        variant = rng.choice(VOICE_VARIANTS)
        if rng.random() < 0.5:
            voice, text = f"{MANDARIN_VOICE}+{variant}", rng.choice(TEXTS["cmn"])
        else:
            voice, text = f"{rng.choice(('en-us', 'en-gb'))}+{variant}", rng.choice(TEXTS["en"])
        runs.append((voice, text, rng.randint(30, 70), rng.randint(140, 190)))
    return runs


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(speak, runs):
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = [speak(*run) for run in runs]
    return out, time.perf_counter() - wall, cpu_seconds() - cpu


def import_seconds(keep_checks: bool) -> float:
    env = {**os.environ, "ESPNET_LLM_ENTROPY_TYPECHECKS": "1" if keep_checks else "0"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import espnet_llm_entropy, espnet2.tasks.asr"], env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip_imports", action="store_true", help="leave out the ESPnet import timing")
    args = p.parse_args()
    binary = find_espeak()
    runs = planned_runs(args.runs, args.seed)

    def command_line(voice, text, pitch, speed):
        out = subprocess.run([binary, "-v", voice, "-p", str(pitch), "-s", str(speed), "-b", "1", "--stdout"],
                             input=text.encode(), capture_output=True, check=True)
        return parse_pcm16_wav_bytes(out.stdout)[0]

    wall, cpu = time.perf_counter(), cpu_seconds()
    with EspeakForkServer() as server:  # closed (its processes reaped) before the CPU time is read
        served = [server.speak(*run) for run in runs]
    server_wall, server_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    spoken, cli_wall, cli_cpu = timed(command_line, runs)
    same = sum(np.array_equal(a, b) for a, b in zip(served, spoken))
    print(f"{args.runs} runs, identical samples: {same} / {args.runs}")
    print(f"command line : {cli_wall:6.2f} s wall, {cli_cpu:6.2f} s CPU")
    print(f"fork server  : {server_wall:6.2f} s wall, {server_cpu:6.2f} s CPU")
    print(f"ratio        : {cli_wall / server_wall:.2f}x wall, {cli_cpu / server_cpu:.2f}x CPU")
    if not args.skip_imports:
        checked, skipped = import_seconds(True), import_seconds(False)
        print(f"import espnet2.tasks.asr: {checked:.1f} s with typeguard on ESPnet, {skipped:.1f} s without "
              f"({checked / skipped:.2f}x)")


if __name__ == "__main__":
    main()
