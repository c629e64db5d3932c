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


def _stat_file(tmp_path, name, user, steal, idle=1000):
    path = tmp_path / name
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(f"cpu  {user} 0 100 {idle} 0 0 0 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    return str(path)


def test_stolen_percent_is_the_steal_share_of_the_elapsed_cpu_time(tmp_path):
    before = machine_info.cpu_time_counters(_stat_file(tmp_path, "a", user=500, steal=0))
    after = machine_info.cpu_time_counters(_stat_file(tmp_path, "b", user=800, steal=100, idle=1000))
    assert before["steal"] == 0 and after["user"] == 800
    assert machine_info.stolen_percent(before, after) == 25.0  # 100 stolen of 400 ticks
    assert machine_info.stolen_percent(before, before) is None  # no time passed
    assert machine_info.stolen_percent(None, after) is None


def test_cpu_time_counters_off_linux_or_on_odd_files_give_none(tmp_path):
    assert machine_info.cpu_time_counters(str(tmp_path / "missing")) is None
    odd = tmp_path / "odd"
    odd.write_text("intr 1 2 3\n")
    assert machine_info.cpu_time_counters(str(odd)) is None


def test_the_wall_time_table_shows_stolen_time_only_when_measured():
    from espnet_llm_entropy.pipeline.demo_report import wall_time_section

    plain = wall_time_section({"corpus": 100.0, "train": 300.0})
    assert "|total|400|" in plain and "stolen" not in plain
    with_steal = wall_time_section({"corpus": 100.0, "train": 300.0}, {"corpus": 0.0, "train": 20.0})
    assert "|train|300|20.0|" in with_steal
    assert "|total|400|15.0|" in with_steal  # time-weighted: (0 x 100 + 20 x 300) / 400
