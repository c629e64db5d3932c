"""The demo end to end on a very small corpus (one epoch per stage)."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from espnet_llm_entropy.bin.demo import main as demo_main
from espnet_llm_entropy.evaluation.asr_scoring import results_table, score_by_language

pytestmark = pytest.mark.slow
#: The repository's development copy of ESPnet's mini_an4 archive (``make demo`` passes it too).
DEV_AN4 = Path(__file__).resolve().parents[3] / "shared" / "data" / "mini_an4"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    out = tmp_path_factory.mktemp("demo") / "out"
    demo_main([
        "--out_dir", str(out), "--num_train", "16", "--num_dev", "4", "--num_test", "4",
        "--llm_pretrain_steps", "10", "--llm_hidden_size", "32", "--llm_template_sentences", "40",
        "--oracle_steps", "3",
        "--epochs", "pretrain=2", "align=1", "ia_sft=1", "joint_sft=1",
        *(["--an4_dir", str(DEV_AN4)] if (DEV_AN4 / "downloads.tar.gz").is_file() else []),
    ])
    return out


def test_report_holds_the_scorer_numbers(demo_dir):
    report = (demo_dir / "RESULTS.md").read_text(encoding="utf-8")
    scores = json.loads((demo_dir / "scores.json").read_text())
    assert "test" in scores
    recomputed = score_by_language(
        demo_dir / "data" / "test" / "text",
        demo_dir / "decode" / "test" / "1best_recog" / "text",
        demo_dir / "data" / "test" / "utt2lang",
    )
    assert recomputed == scores["test"]
    for line in results_table(recomputed).splitlines()[2:]:
        assert line in report
    hall = json.loads((demo_dir / "decode" / "nonspeech" / "hallucination" / "hallucination.json").read_text())
    assert hall["dataset"] == "nonspeech" and "nonspeech" in hall
    assert "## Hallucination" in report and "non-speech" in report
    # the same model retrained with silence/noise augmentation, scored the same way
    aug = json.loads((demo_dir / "decode_augmented" / "nonspeech" / "hallucination" / "hallucination.json").read_text())
    assert aug["dataset"] == "nonspeech"
    assert "## Hallucination with robustness augmentation" in report
    aug_scores = json.loads((demo_dir / "scores_augmented.json").read_text())
    for line in results_table(aug_scores["test"]).splitlines()[2:]:
        assert line in report
    aug_config = (demo_dir / "exp_augmented" / "joint_sft" / "config.yaml").read_text()
    assert "noise.scp" in aug_config and "noise.scp" not in (demo_dir / "exp" / "joint_sft" / "config.yaml").read_text()
    assert (demo_dir / "exp_augmented" / "ia_sft").resolve() == (demo_dir / "exp" / "ia_sft").resolve()


def test_every_step_is_timed_with_the_cpu_time_stolen_from_it(demo_dir):
    from espnet_llm_entropy.machine_info import cpu_time_counters

    timings = json.loads((demo_dir / "timings.json").read_text())
    members = {f"final_stages/{m}" for m in ("joint_sft", "robustness")}
    sides = {"train/diagnose_llm", "train/diagnose_encoder"}
    assert {"corpus", "train", "train/llm", "final_stages", "report"} | members | sides <= set(timings)
    assert timings["train/llm"] < timings["train"]  # built beside pretraining
    assert all(timings[s] < timings["train"] for s in sides)  # both sides of the diagnosis ran beside training
    # the group's wall time covers its members, which ran side by side
    assert max(timings[m] for m in members) <= timings["final_stages"] < sum(timings[m] for m in members) + 5
    report = (demo_dir / "RESULTS.md").read_text(encoding="utf-8")
    assert f"|train|{timings['train']:.0f}|" in report
    assert f"|&nbsp;&nbsp;robustness (in parallel)|{timings['final_stages/robustness']:.0f}|" in report
    total = sum(v for k, v in timings.items() if "/" not in k)
    assert f"|total|{total:.0f}|" in report
    if cpu_time_counters() is None:
        pytest.skip("no /proc/stat on this system: the demo measures no stolen CPU time")
    steal = json.loads((demo_dir / "cpu_steal.json").read_text())
    # steps shorter than a clock tick of /proc/stat (the report, often) have no share
    assert set(steal) <= set(timings) and {"corpus", "train", "final_stages"} <= set(steal)
    assert all(0.0 <= v <= 100.0 for v in steal.values())
    assert "CPU stolen by other guests" in report


def _kaldi_map(path):
    rows = [line.split(maxsplit=1) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r[0]: (r[1] if len(r) > 1 else "") for r in rows}


def test_ctc_gate_is_calibrated_on_dev_and_decides_every_clip(demo_dir):
    import torch

    calibration = json.loads((demo_dir / "decode" / "gate_calibration.json").read_text())
    data = demo_dir / "data"
    assert set(calibration["speech_counts"]) == set(_kaldi_map(data / "dev" / "wav.scp"))
    assert set(calibration["nonspeech_counts"]) == set(_kaldi_map(data / "nonspeech_dev" / "wav.scp"))
    threshold = calibration["calibration"]["min_ctc_phones"]
    assert threshold >= 1
    best = demo_dir / "decode" / "nonspeech" / "1best_recog"
    texts, phones = _kaldi_map(best / "text"), _kaldi_map(best / "ctc_phones")
    assert set(phones) == set(_kaldi_map(data / "nonspeech" / "wav.scp"))  # every clip was judged
    for uid, count in phones.items():
        if int(count) < threshold:
            assert texts[uid] == "", uid  # no evidence: the LLM did not write
    assert "silence-04-30000ms" in phones  # the long silence decodes without trouble
    ungated = demo_dir / "decode_nogate" / "nonspeech" / "1best_recog" / "text"
    assert set(_kaldi_map(ungated)) == set(texts)
    final = torch.load(demo_dir / "exp" / "joint_sft" / "latest.pth", weights_only=True)
    assert bool(final["ctc_head_trained"])
    report = (demo_dir / "RESULTS.md").read_text(encoding="utf-8")
    assert "## CTC-evidence gate" in report and f"min_ctc_phones={threshold}" in report


def test_diagnosis_and_learning_curves_are_in_the_report(demo_dir):
    report = (demo_dir / "RESULTS.md").read_text(encoding="utf-8")
    diagnosis = json.loads((demo_dir / "diagnosis" / "diagnosis.json").read_text())
    for side in ("encoder", "llm"):  # run apart (the LLM side before IA-SFT existed), joined at the end
        part = json.loads((demo_dir / "diagnosis" / f"{side}_side.json").read_text())
        assert part.items() <= diagnosis.items()
    per = diagnosis["a_encoder_phone_error_rate"]
    assert per["num_utts"] == 4 and per["ref_phones"] > 0
    assert f"{100 * per['per']:.1f}%" in report
    assert diagnosis["b_oracle_encoder"]["steps"] == 3
    assert diagnosis["b_llm_text_perplexity"]["num_sentences"] == 4
    scores = json.loads((demo_dir / "scores.json").read_text())
    assert diagnosis["c_full_model"] == scores["test"]
    coverage = diagnosis["c_by_template_coverage"]  # every test utterance in one bucket, the errors those of (c)
    assert coverage["rare"]["utts"] + coverage["covered"]["utts"] == 4 and coverage["unmatched"]["utts"] == 0
    assert coverage["rare"]["errors"] + coverage["covered"]["errors"] == scores["test"]["all"]["errors"]
    assert "## Where the error comes from" in report
    curves = json.loads((demo_dir / "curves" / "learning_curves.json").read_text())
    assert [r["epoch"] for r in curves["pretrain"]] == [1, 2]
    assert all("valid_per" in r for r in curves["pretrain"])
    assert all("valid_acc" in r for r in curves["ia_sft"])
    assert curves["ia_sft"][0]["cumulative_step"] > curves["align"][-1]["cumulative_step"]
    assert "](curves/learning_curves.png)" in report and (demo_dir / "curves" / "learning_curves.png").exists()


def test_four_stages_ran_with_hot_swaps_and_analysis(demo_dir):
    for stage in ("pretrain", "align", "ia_sft", "joint_sft"):
        assert (demo_dir / "exp" / stage / "config.yaml").exists(), stage
    history = json.loads((demo_dir / "exp" / "swap_history.json").read_text())
    assert "ia_sft" in history and history["mode"] == "lockstep"
    # lockstep: pretraining ran as its own process beside alignment and IA-SFT, one thread each
    log = (demo_dir / "exp" / "train_method.log").read_text()
    assert re.search(r"lockstep mode (on the CPU: pretraining on \d+ thread|on one CPU thread)", log)
    # the diagnosis's LLM side ran before IA-SFT, so IA-SFT takes both threads after the final swap
    ia_sft = yaml.safe_load((demo_dir / "exp" / "ia_sft" / "config.yaml").read_text())
    assert ia_sft["hot_swap_conf"].get("cpu_threads_after_final") != 1
    metrics = json.loads((demo_dir / "analysis" / "metrics.json").read_text())
    assert metrics
    pngs = list((demo_dir / "analysis").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)


def test_final_model_is_packed_and_its_size_reported(demo_dir):
    from espnet_llm_entropy.pipeline.demo_pipeline import PACK_FILE
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    pack = demo_dir / PACK_FILE
    report = (demo_dir / "RESULTS.md").read_text()
    assert "## Packed model" in report and f"{pack.stat().st_size / 1e6:.1f} MB" in report
    s2t = LLMSpeech2Text.from_pretrained(pack, unpack_dir=demo_dir / "pack" / "unpacked")
    assert s2t.packed.llm_dir is not None


def test_rerun_skips_finished_steps(demo_dir, capsys):
    before = (demo_dir / "RESULTS.md").stat().st_mtime_ns
    demo_main(["--out_dir", str(demo_dir), "--num_train", "16", "--num_dev", "4", "--num_test", "4"])
    out = capsys.readouterr().out
    assert out.count("already done") == 9
    assert (demo_dir / "RESULTS.md").stat().st_mtime_ns == before


def test_grpo_option_compares_grpo_with_continued_sft(demo_dir):
    demo_main(["--out_dir", str(demo_dir), "--num_train", "16", "--num_dev", "4", "--num_test", "4",
               "--grpo_updates", "2", "--grpo_iters_per_epoch", "1"])
    result = json.loads((demo_dir / "grpo_comparison.json").read_text())
    rows = result["rows"]
    assert set(rows) == {"base", "grpo seed 0 best", "grpo seed 0 last", "sft seed 0 best", "sft seed 0 last"}
    assert result["models"]["grpo seed 0 best"].endswith("valid.reward.best.pth")
    assert rows["grpo seed 0 last"]["checkpoint"] == "latest.pth = 2epoch.pth"
    for row in rows.values():
        assert 0.0 <= row["cka"] <= 1.0 + 1e-6
        assert row["gate"]["nonspeech_clips"] == row["nogate"]["nonspeech_clips"] > 0
    # GRPO trains the adaptor and the LLM only: its encoder is the joint-SFT one
    assert rows["grpo seed 0 last"]["cka"] == pytest.approx(rows["base"]["cka"], abs=1e-6)
    curve = result["curves"]["0"]
    assert [r["step"] for r in curve] == [1, 2]
    assert all("train_reward" in r and "train_kl" in r and "valid_reward" in r for r in curve)
    report = (demo_dir / "RESULTS.md").read_text(encoding="utf-8")
    assert "## GRPO after joint SFT" in report and "| grpo seed 0 last |" in report


def test_one_decoding_process_per_model_gives_the_hypotheses_of_separate_processes(demo_dir, tmp_path):
    """The demo decodes a model's sets in one ``decode_with_gate`` process; asr.sh runs one
    ``llm_asr_inference`` per set. Both must write the same hypotheses and CTC phone counts."""
    from espnet_llm_entropy.pipeline import espnet_steps

    threshold = json.loads((demo_dir / "decode" / "gate_calibration.json").read_text())["calibration"]["min_ctc_phones"]
    exp_dir = demo_dir / "exp" / "joint_sft"
    alone = espnet_steps.decode(exp_dir, espnet_steps.decoding_checkpoint(exp_dir), demo_dir / "data" / "test",
                                tmp_path / "test", extra=["--decoding_guard_conf", f"min_ctc_phones={threshold}"],
                                batch_size=16, in_process=False, log_file=tmp_path / "test.log")
    together = demo_dir / "decode" / "test" / "1best_recog"
    for name in ("text", "ctc_phones"):
        assert _kaldi_map(alone / name) == _kaldi_map(together / name), name
    assert (demo_dir / "decode.log").is_file() and "decoding test" in (demo_dir / "decode.log").read_text()
