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


def _counters(user, steal, idle=1000.0, guest=0.0):
    return dict(user=user, nice=0.0, system=100.0, idle=idle, iowait=0.0, irq=0.0, softirq=0.0,
                steal=steal, guest=guest, guest_nice=0.0)


def test_stolen_percent_is_the_steal_share_of_the_elapsed_cpu_time():
    before = _counters(user=500.0, steal=0.0)
    after = _counters(user=800.0, steal=100.0, guest=50.0)  # guest time is already inside user
    assert machine_info.stolen_percent(before, after) == 25.0  # 100 stolen of 400 s
    assert machine_info.stolen_percent(before, before) is None  # no time passed
    assert machine_info.stolen_percent(None, after) is None


def test_cpu_time_counters_without_steal_reporting_give_none(monkeypatch):
    import collections

    import psutil

    counters = machine_info.cpu_time_counters()
    if counters is not None:  # Linux: the kinds psutil reads from /proc/stat
        assert {"user", "idle", "steal"} <= set(counters)
    no_steal = collections.namedtuple("scputimes", "user system idle")  # e.g. macOS
    monkeypatch.setattr(psutil, "cpu_times", lambda: no_steal(1.0, 2.0, 3.0))
    assert machine_info.cpu_time_counters() is None


def test_the_wall_time_table_shows_stolen_time_only_when_measured():
    from espnet_llm_entropy.pipeline.demo_report import wall_time_section

    plain = wall_time_section({"corpus": 100.0, "train": 300.0})
    assert "|total|400|" in plain and "stolen" not in plain
    with_steal = wall_time_section({"corpus": 100.0, "train": 300.0}, {"corpus": 0.0, "train": 20.0})
    assert "|train|300|20.0|" in with_steal
    assert "|total|400|15.0|" in with_steal  # time-weighted: (0 x 100 + 20 x 300) / 400
