"""A very small paradigm comparison, end to end, through the CLI.

Four paradigms shaped like the shipped ones (single stage, character CTC,
phoneme CTC, the full method) but a few epochs of 2 updates each, one seed,
on a 12-utterance synthetic corpus with a tiny LLM: every stage is a real
ESPnet training, every decoding a real ``llm_asr_inference`` run. The test
then recomputes figures from the decoded files and checks that
``metrics.json`` and the report's table carry exactly those numbers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch

from espnet_llm_entropy.bin.compare_paradigms import main as compare_main
from espnet_llm_entropy.analysis.learning_curves import read_learning_curve
from espnet_llm_entropy.comparison.metric_catalog import CLAIMS, TRAINED_PRETRAIN_MAX_ERROR
from espnet_llm_entropy.evaluation.asr_scoring import score_by_language
from espnet_llm_entropy.evaluation.hallucination import hallucination_report
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text
from espnet_llm_entropy.evaluation.text_units import text_to_units

pytestmark = pytest.mark.slow

REPO_TINY = Path(__file__).resolve().parents[2] / "conf" / "tiny"
PRETRAIN = {"stage": "pretrain", "config": str(REPO_TINY / "pretrain_phoneme_ctc.yaml"), "epochs": 3,
            # check (and possibly publish) every 2 steps so IA-SFT has versions to swap in
            "args": "--cka_monitor_conf check_interval=2 --cka_monitor_conf reference_step=2"}
ALIGN = {"stage": "align", "config": str(REPO_TINY / "align.yaml"), "epochs": 1}
DIRECT_JOINT = {"stage": "joint_sft", "config": str(REPO_TINY / "joint_sft.yaml"), "epochs": 3,
                "args": "--optim_conf lr=0.003 --drift_conf floor=0 --drift_conf action=none"}
PARADIGMS = {
    "single_stage": {"units": "phone", "stages": [dict(DIRECT_JOINT, epochs=7)]},
    "char_ctc": {"units": "char", "stages": [PRETRAIN, dict(ALIGN, encoder="final"), DIRECT_JOINT]},
    "phoneme_ctc": {"units": "phone", "stages": [PRETRAIN, dict(ALIGN, encoder="final"), DIRECT_JOINT]},
    "full_method": {"units": "phone", "stages": [
        PRETRAIN, dict(ALIGN, encoder="first"),
        {"stage": "ia_sft", "config": str(REPO_TINY / "ia_sft.yaml"), "epochs": 2,
         "args": "--hot_swap_conf replay_final_fraction=0.5"},
        {"stage": "joint_sft", "config": str(REPO_TINY / "joint_sft.yaml"), "epochs": 1},
    ]},
}
STEPS_PER_EPOCH = 2


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """Run the comparison once; returns (out_dir, data_dir)."""
    import yaml

    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    root = tmp_path_factory.mktemp("comparison")
    exp = build_tiny_experiment(root / "ws", 12, 4, 4)
    files = []
    for name, body in PARADIGMS.items():
        path = root / "paradigms" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump({"name": name, "label": name.replace("_", " "), **body}))
        files.append(str(path))
    out = root / "out"
    args = [
        "--out_dir", str(out), "--paradigms", *files, "--seeds", "0",
        "--steps_per_epoch", str(STEPS_PER_EPOCH), "--jobs", "2", "--analysis_max_utts", "4",
        "--train_dir", str(exp.data / "train"), "--valid_dir", str(exp.data / "dev"),
        "--test_dir", str(exp.data / "test"), "--nonspeech_dir", str(exp.data / "nonspeech"),
        "--llm_dir", str(exp.llm_dir), "--token_list", str(exp.phones), "--stats_dir", str(exp.stats),
    ]
    assert compare_main(args) == 0
    return out, exp.data, args


def _run(out: Path, paradigm: str) -> dict:
    return json.loads((out / "runs" / paradigm / "seed0" / "metrics.json").read_text())


def _table_row(markdown: str, heading: str, paradigm: str) -> list:
    """Cells of ``paradigm``'s row in the table under ``### heading``."""
    section = markdown.split(f"### {heading}", 1)[1].split("\n#", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| paradigm"))
    row = next(line for line in section.splitlines() if line.startswith(f"| {paradigm} |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    return dict(zip(names, cells))


def test_every_run_finished_and_wrote_metrics(comparison):
    out, _, _ = comparison
    outcomes = json.loads((out / "outcomes.json").read_text())
    assert set(outcomes) == {f"{p}/seed0" for p in PARADIGMS} | {
        n for n in outcomes if n.startswith("pretrain/")}
    assert all(o["status"] == "done" for o in outcomes.values()), outcomes
    # two pretrainings: phone (shared by phoneme_ctc and full_method) and char
    assert sum(n.startswith("pretrain/") for n in outcomes) == 2
    for paradigm, body in PARADIGMS.items():
        run = _run(out, paradigm)
        expected_steps = STEPS_PER_EPOCH * sum(s["epochs"] for s in body["stages"])
        assert run["metrics"]["train_steps"] == expected_steps
        assert run["metrics"]["train_time_s"] > 0


def test_pretraining_is_shared_only_between_identical_pretrainings(comparison):
    out, _, _ = comparison
    runs = out / "runs"
    phone = (runs / "phoneme_ctc" / "seed0" / "pretrain").resolve()
    assert phone == (runs / "full_method" / "seed0" / "pretrain").resolve()
    assert phone != (runs / "char_ctc" / "seed0" / "pretrain").resolve()
    chars = (runs / "char_ctc" / "seed0" / "pretrain" / "config.yaml").read_text()
    assert "unit: char" in chars
    assert not (runs / "single_stage" / "seed0" / "pretrain").exists()


def test_full_method_hot_swaps_and_baselines_do_not(comparison):
    out, _, _ = comparison
    runs = out / "runs"
    swaps = [json.loads(line) for line in
             (runs / "full_method" / "seed0" / "ia_sft" / "swap_history.jsonl").read_text().splitlines()]
    assert swaps and swaps[0]["version"] == 1
    assert not (runs / "phoneme_ctc" / "seed0" / "ia_sft").exists()


def test_metrics_are_the_figures_of_the_decoded_files(comparison):
    out, data, _ = comparison
    refs = read_kaldi_text(data / "test" / "text")
    for paradigm in PARADIGMS:
        run = _run(out, paradigm)
        decode = out / "runs" / paradigm / "seed0" / "decode"
        hyp_file = decode / "test" / "1best_recog" / "text"
        scores = score_by_language(data / "test" / "text", hyp_file, data / "test" / "utt2lang")
        assert run["metrics"]["mer"] == pytest.approx(scores["all"]["rate"])
        hyps = read_kaldi_text(hyp_file)
        assert run["metrics"]["hallucination_rate"] == pytest.approx(
            hallucination_report(refs, hyps)["hallucination"]["rate"])
        clips = read_kaldi_text(data / "nonspeech" / "wav.scp")
        for name, key in (("nonspeech", "nonspeech_output_rate"), ("nonspeech_nogate", "nonspeech_output_rate_nogate")):
            nonspeech = read_kaldi_text(decode / name / "1best_recog" / "text")
            # output = at least one scoring unit (punctuation alone is not output)
            with_output = sum(bool(text_to_units(nonspeech.get(uid, ""), "mixed")) for uid in clips)
            assert run["metrics"][key] == pytest.approx(with_output / len(clips))
        # the gate only ever silences a clip: without it at least as many clips get output
        assert run["metrics"]["nonspeech_output_rate_nogate"] >= run["metrics"]["nonspeech_output_rate"]


def test_representation_figures_come_from_the_analysis(comparison):
    out, _, _ = comparison
    for paradigm in PARADIGMS:
        run = _run(out, paradigm)
        analysis = json.loads((out / "runs" / paradigm / "seed0" / "analysis" / "metrics.json").read_text())
        name, exp = next((n, e) for n, e in analysis["experiments"].items() if e["role"] == "experiment")
        nse = exp["spectra"]["encoder_output"]["normalized_spectral_entropy"]
        assert run["metrics"]["encoder_nse"] == pytest.approx(nse)
        assert 0.0 < nse <= 1.0
        assert run["nse_per_layer"]["encoder_output"] == pytest.approx(nse)
        if paradigm == "single_stage":
            assert run["metrics"]["drift_cka"] is None and run["metrics"]["pretrained_encoder_nse"] is None
        else:
            cka = analysis["cka"]["to_reference"][name]["encoder_output_cka"]
            assert run["metrics"]["drift_cka"] == pytest.approx(cka)
            assert 0.0 <= cka <= 1.0 + 1e-6


def test_training_outcome_comes_from_the_reporter_state(comparison):
    out, _, _ = comparison
    for paradigm in PARADIGMS:
        metrics = _run(out, paradigm)["metrics"]
        run = out / "runs" / paradigm / "seed0"
        if paradigm == "single_stage":
            assert metrics["pretrain_dev_error"] is None
        else:
            assert metrics["pretrain_dev_error"] == pytest.approx(read_learning_curve(run / "pretrain")[-1]["valid_per"])
            assert metrics["pretrain_dev_error"] >= 0.0
        last = "joint_sft"
        assert metrics["final_dev_acc"] == pytest.approx(read_learning_curve(run / last)[-1]["valid_acc"])
        assert 0.0 <= metrics["final_dev_acc"] <= 1.0


def test_report_table_shows_the_computed_numbers(comparison):
    out, _, _ = comparison
    markdown = (out / "comparison.md").read_text()
    for paradigm in PARADIGMS:
        metrics = _run(out, paradigm)["metrics"]
        recognition = _table_row(markdown, "Recognition and hallucination", paradigm)
        assert recognition["test MER % ↓"] == f"{100 * metrics['mer']:.1f}"
        entropy = _table_row(markdown, "Entropy and representation", paradigm)
        assert entropy["encoder NSE"] == f"{metrics['encoder_nse']:.3f}"
        drift = entropy["CKA to pretrained encoder ↑"]
        assert drift == ("–" if metrics["drift_cka"] is None else f"{metrics['drift_cka']:.3f}")
        cost = _table_row(markdown, "Training and cost", paradigm)
        assert cost["update steps"] == str(metrics["train_steps"])
        plateau_line = f"`{paradigm}`: pretraining barely trained"
        if metrics["pretrain_dev_error"] is not None and metrics["pretrain_dev_error"] > TRAINED_PRETRAIN_MAX_ERROR:
            assert plateau_line in markdown
        else:
            assert plateau_line not in markdown
    for claim in CLAIMS:
        assert claim.text in markdown
    assert re.search(r"Verdict: \*\*", markdown)
    for plot in ("metric_bars.png", "drift_traces.png", "nse_per_layer.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "comparison.json").read_text())
    mean_mer = saved["aggregated"]["by_paradigm"]["full_method"]["metrics"]["mer"]["mean"]
    assert mean_mer == pytest.approx(_run(out, "full_method")["metrics"]["mer"])


def test_each_run_is_evaluated_by_one_worker_process(comparison):
    out, _, _ = comparison
    for paradigm in PARADIGMS:
        run = out / "runs" / paradigm / "seed0"
        log = (run / "evaluation.log").read_text()
        # the three decodings, their scoring and the analysis ran inside that one process
        assert log.count("running: python -m espnet_llm_entropy.bin.llm_asr_inference") == 3
        assert log.count("running: python -m espnet_llm_entropy.bin.score_hallucination") == 3
        assert "running: python -m espnet_llm_entropy.bin.analyze_entropy" in log
        assert not (run / "analysis.log").exists() and not (run / "decode" / "test.log").exists()


def test_a_fresh_worker_and_a_warm_process_give_the_same_metrics(comparison, tmp_path):
    """Evaluating in the worker (fresh process) and again here (ESPnet already used) gives equal figures.

    Both with the same number of torch threads: float sums depend on it.
    """
    import shutil

    from espnet_llm_entropy.comparison.paradigm_spec import load_paradigm
    from espnet_llm_entropy.comparison.run_metrics import evaluate_run
    from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace

    out, _, _ = comparison
    run = out / "runs" / "full_method" / "seed0"
    copy = tmp_path / "seed0"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("decode", "analysis", "metrics.json"))
    ws = ComparisonWorkspace.from_json((run / "workspace.json").read_text())
    aligner = next((out / "pretrain").glob("seed0_phone_*"))
    first = _run(out, "full_method")
    spec = load_paradigm(first["sources"]["paradigm_file"])
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))  # as the worker ran: --jobs 2 share the cores
    try:
        again = evaluate_run(ws, copy, spec, 0, aligner, max_utts=4, in_process=True)
    finally:
        torch.set_num_threads(threads)
    assert again["metrics"] == first["metrics"]
    assert again["nse_per_layer"] == first["nse_per_layer"]


def test_running_again_resumes_without_training(comparison):
    out, _, args = comparison
    logs = sorted(out.glob("runs/*/seed0/*/train.log")) + sorted(out.glob("pretrain/*/train.log"))
    before = {p: p.stat().st_mtime_ns for p in logs}
    assert compare_main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in logs} == before
