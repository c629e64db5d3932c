"""The machine line of reports names the processor and torch's CPU instruction set."""

import os

import torch

from espnet_llm_entropy import machine_info
from espnet_llm_entropy.comparison.comparison_runner import machine_description
from espnet_llm_entropy.pipeline.demo_report import environment_block


def test_cpu_description_names_processor_cores_and_capability():
    line = machine_info.cpu_description()
    assert line.startswith(machine_info.processor_name())
    assert f"{os.cpu_count()} cores" in line
    assert line.endswith(f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}")


def test_processor_name_without_proc_cpuinfo_falls_back(monkeypatch):
    def no_file(*args, **kwargs):
        raise OSError("no /proc here")
    monkeypatch.setattr("builtins.open", no_file)
    monkeypatch.setattr(machine_info.platform, "processor", lambda: "")
    monkeypatch.setattr(machine_info.platform, "machine", lambda: "riscv64")
    assert machine_info.processor_name() == "riscv64"


def test_reports_carry_the_description():
    line = machine_info.cpu_description()
    assert machine_description().startswith(line)
    assert f"- machine: `{line}, no GPU used`" in environment_block()
