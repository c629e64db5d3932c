"""``decode_with_gate``: its options and its errors (the decoding itself: test/pipeline/test_pipeline_demo.py)."""

import subprocess
import sys

import pytest

from espnet_llm_entropy.bin.decode_with_gate import main
from espnet_llm_entropy.pipeline.gated_decoding import GatedDecodingJob, job_arguments, nogate_dir


def _write_data_dir(path):
    path.mkdir(parents=True)
    (path / "wav.scp").write_text("u1 /nonexistent.wav\n")
    return path


def _job(tmp_path, **changes):
    exp = tmp_path / "exp"
    exp.mkdir(exist_ok=True)
    (exp / "config.yaml").write_text("model: llm_asr\n")
    (exp / "model.pth").write_bytes(b"")
    data = tmp_path / "data"
    for name in ("dev", "nonspeech_dev", "test"):
        if not (data / name).exists():
            _write_data_dir(data / name)
    fields = dict(asr_train_config=exp / "config.yaml", asr_model_file=exp / "model.pth", data_root=data,
                  out_dir=tmp_path / "decode", sets=["test"], nogate_sets=["test"],
                  calibration_speech_dir=data / "dev", calibration_nonspeech_dir=data / "nonspeech_dev")
    fields.update(changes)
    return GatedDecodingJob(**fields)


def test_help_names_the_layout():
    out = subprocess.run([sys.executable, "-m", "espnet_llm_entropy.bin.decode_with_gate", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--calibration_speech_dir", "--calibration_nonspeech_dir", "--nogate_sets", "OUT_DIR_nogate"):
        assert option in out


@pytest.mark.parametrize("change, named", [
    ({"calibration_nonspeech_dir": "missing"}, "--calibration_nonspeech_dir missing"),
    ({"sets": ["test", "an4"]}, "an4"),
    ({"nogate_sets": ["other"]}, "other"),
    ({"decode_config": "no_decode.yaml"}, "--decode_config no_decode.yaml"),
])
def test_a_missing_input_is_an_error_naming_it_and_nothing_is_written(tmp_path, change, named):
    job = _job(tmp_path, **change)
    with pytest.raises(SystemExit, match=named):
        main(job_arguments(job))
    assert not job.out_dir.exists() and not nogate_dir(job.out_dir).exists()


def test_a_missing_checkpoint_is_named(tmp_path):
    job = _job(tmp_path, asr_model_file=tmp_path / "exp" / "none.pth")
    with pytest.raises(SystemExit, match="--asr_model_file .*none.pth"):
        main(job_arguments(job))


def test_job_arguments_round_trip_through_the_parser(tmp_path):
    from espnet_llm_entropy.bin.decode_with_gate import get_parser

    job = _job(tmp_path, sets=["test", "nonspeech"], nogate_sets=[])
    args = get_parser().parse_args(job_arguments(job))
    assert args.sets == ["test", "nonspeech"] and args.nogate_sets == []
    assert args.out_dir == job.out_dir and args.batch_size == job.batch_size


def test_the_decode_config_reaches_every_decoding_under_the_per_run_guard(tmp_path, monkeypatch):
    """``--decode_config`` goes to every llm_asr_inference run, before the threshold or ctc_gate=false."""
    from espnet_llm_entropy.pipeline import espnet_steps, gated_decoding

    config = tmp_path / "decode.yaml"
    config.write_text("beam_size: 4\nctc_weight: 0.3\n")
    job = _job(tmp_path, decode_config=config)
    assert get_parser_args(job).decode_config == config
    seen = []
    monkeypatch.setattr(gated_decoding, "calibrate_gate_to_file",
                        lambda *a, **k: {"calibration": {"min_ctc_phones": 3}})
    monkeypatch.setattr(espnet_steps, "decode", lambda *a, extra, **k: seen.append(list(extra)))
    assert gated_decoding.decode_with_calibrated_gate(job) == 3
    assert seen == [["--config", str(config), "--decoding_guard_conf", "min_ctc_phones=3"],
                    ["--config", str(config), "--decoding_guard_conf", "ctc_gate=false"]]


def get_parser_args(job):
    from espnet_llm_entropy.bin.decode_with_gate import get_parser

    return get_parser().parse_args(job_arguments(job))
