"""What a report says about the machine it was measured on.

Float results of the same torch kernels can differ between processors
(AVX2 and AVX-512 code paths round differently), and training amplifies
such differences, so a report that claims reproducibility names the
processor and the instruction set torch uses, not only the core count.
"""

from __future__ import annotations

import os
import platform


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
