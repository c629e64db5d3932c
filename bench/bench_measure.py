"""Measurement helpers shared by the benchmarks: devices, timers, peak memory, tables.

Peak memory: on CUDA the allocator's peak (``torch.cuda.max_memory_allocated``
after a reset); on the CPU the kernel's peak resident set size (``VmHWM``),
reset through ``/proc/self/clear_refs`` before the measured region, minus
the resident size at that moment, i.e. what the measured region added on
top of what was already allocated (model, optimizer state, batches).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence

import torch

from espnet_llm_entropy.machine_info import processor_name

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def add_device_arguments(parser) -> None:
    """--device, --dtype, --threads, --quick (shared by every benchmark)."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES),
                        help="parameter/activation dtype (bf16 only makes sense on a GPU)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true",
                        help="few steps and small sizes: a smoke run of the script")


def setup_device(args) -> tuple:
    """Validate --device/--dtype; returns (torch.device, torch.dtype)."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device, DTYPES[args.dtype]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine_description(device: torch.device) -> str:
    """One line naming the processor (or GPU), core count and torch version."""
    if device.type == "cuda":
        return (f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
                f"CUDA {torch.version.cuda}")
    cpu = processor_name()
    load = ", load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}{load}")


def _read_status_kib(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class PeakMemory:
    """Peak memory added by a measured region, in MiB (``mib``; None if unknown)."""

    mib: Optional[float] = None


@contextlib.contextmanager
def track_peak_memory(device: torch.device) -> Iterator[PeakMemory]:
    """Context manager measuring the peak memory that the block adds (see module doc)."""
    result = PeakMemory()
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield result
        synchronize(device)
        result.mib = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        return
    base = None
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
        base = _read_status_kib("VmRSS")
    except OSError:
        pass
    yield result
    peak = _read_status_kib("VmHWM")
    if base is not None and peak is not None:
        result.mib = max(0, peak - base) / 1024


class StepTimer:
    """Wall-clock time of repeated calls, synchronizing CUDA around each one."""

    def __init__(self, device: torch.device):
        self.device = device
        self.times: List[float] = []

    @contextlib.contextmanager
    def step(self):
        synchronize(self.device)
        start = time.perf_counter()
        yield
        synchronize(self.device)
        self.times.append(time.perf_counter() - start)

    @property
    def total(self) -> float:
        return float(sum(self.times))

    @property
    def median(self) -> float:
        ordered = sorted(self.times)
        return ordered[len(ordered) // 2] if ordered else float("nan")


def format_table(rows: Sequence[Dict[str, object]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` (dicts) restricted to ``columns``."""

    def fmt(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            if value != value:
                return "nan"
            if abs(value) >= 100:
                return f"{value:,.0f}"
            if abs(value) >= 10:
                return f"{value:.1f}"
            return f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def measure_matmul_peak(
    device: torch.device, dtype: torch.dtype, size: int = 2048, repeat: int = 5
) -> float:
    """Best achieved FLOP/s of an (n x n) @ (n x n) product on this device (FLOP/s)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        torch.matmul(a, b)
    synchronize(device)
    best = float("inf")
    inner = 20 if device.type == "cuda" else 1
    for _ in range(repeat):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(inner):
            torch.matmul(a, b)
        synchronize(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2.0 * size**3 / best
