"""What a report says about the machine it was measured on.

Float results of the same torch kernels can differ between processors
(AVX2 and AVX-512 code paths round differently), and training amplifies
such differences, so a report that claims reproducibility names the
processor and the instruction set torch uses, not only the core count.
"""

from __future__ import annotations

import os
import platform
from typing import Dict, Optional


def processor_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``, else the architecture)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_description() -> str:
    """One line: processor, cores, architecture and torch's CPU instruction set.

    Example: ``Intel(R) Xeon(R) Processor @ 2.80GHz, 2 cores (x86_64), torch CPU capability AVX512``.
    """
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    return f"{processor_name()}, {os.cpu_count()} cores ({platform.machine()}), torch CPU capability {capability}"


#: psutil's Linux CPU-time fields that ``user``/``nice`` already include (the kernel counts guest time twice)
_DOUBLE_COUNTED = ("guest", "guest_nice")


def cpu_time_counters() -> Optional[Dict[str, float]]:
    """All CPUs' time so far, by kind, in seconds (``psutil.cpu_times()``); None where the
    platform reports no ``steal`` time (it is Linux-only).

    ``steal`` is the time a virtual machine's CPUs were ready to run but the
    host ran another guest: on a shared cloud machine it makes the same work
    take longer, so a timed report states it.
    """
    import psutil

    times = psutil.cpu_times()
    return times._asdict() if hasattr(times, "steal") else None


def stolen_percent(before: Optional[Dict[str, float]], after: Optional[Dict[str, float]]) -> Optional[float]:
    """Percent of the CPU time between two ``cpu_time_counters`` readings that the host gave
    to other guests (0 on bare metal); None when either reading is missing or no time passed."""
    if not before or not after:
        return None
    total = sum(after[k] - before[k] for k in after if k not in _DOUBLE_COUNTED)
    if total <= 0:
        return None
    return 100.0 * (after["steal"] - before["steal"]) / total
