"""Figures read back from an analysis ``metrics.json`` and from a stage's ``train.log``."""

import copy

import pytest

from espnet_llm_entropy.comparison.run_metrics import analysis_figures, trainable_per_stage

EXP = "joint_sft/valid.acc.best.pth"
REF = "pretrain/valid.per.best.pth"


def _spectrum(nse, rank):
    return {"normalized_spectral_entropy": nse, "spectral_entropy_nats": 3.0, "effective_rank": rank,
            "rankme": 50.0, "num_frames": 100, "dim": 96}


def analysis_dict():
    """The shape of ``analyze_entropy``'s metrics.json, with distinct known numbers."""
    return {
        "data_dir": "/data/test",
        "num_utterances": 60,
        "reference": REF,
        "experiments": {
            REF: {  # listed first, as analyze_entropy writes it
                "role": "reference",
                "spectra": {
                    "encoder_layer_1": _spectrum(0.11, 11.0),
                    "encoder_output": _spectrum(0.69, 23.0),
                },
                "phonetic_information": {"encoder_output": {"info_bits": 9.9},
                                         "adaptor_output": {"skipped": "the model has no adaptor output"}},
                "llm_entropy": {"skipped": "the model has no LLM"},
                "allocation": {"encoder_output": {"skipped": "no LLM"}},
            },
            EXP: {
                "role": "experiment",
                "spectra": {
                    "encoder_layer_1": _spectrum(0.57, 13.0),
                    "encoder_layer_2": _spectrum(0.68, 22.0),
                    "encoder_output": _spectrum(0.70, 24.5),
                    "adaptor_output": _spectrum(0.42, 8.5),
                    "llm_layer_1_speech": _spectrum(0.33, 5.0),
                    "llm_layer_1_transcript": _spectrum(0.31, 4.0),
                },
                "phonetic_information": {
                    "encoder_output": {"h_prior_bits": 6.8, "info_bits": 2.58, "info_share": 0.38},
                    "adaptor_output": {"h_prior_bits": 6.8, "info_bits": -0.7, "info_share": -0.1},
                },
                "llm_entropy": {"bits_per_token_without_speech": 4.05, "bits_per_token_with_speech": 3.25,
                                "reduction_bits_per_token": 0.8, "reduction_share": 0.197},
                "allocation": {
                    "encoder_output": {"encoder_share": 0.75, "llm_share": 0.25, "encoder_capped": True},
                    "adaptor_output": {"encoder_share": 0.0, "llm_share": 1.0},
                },
            },
        },
        "cka": {
            "within_experiment": {EXP: {"rows": [], "cols": [], "matrix": []}},
            "to_reference": {EXP: {"reference": REF, "encoder_output_cka": 0.9966, "adaptor_output_cka": None}},
        },
    }


EXPECTED = {
    "pretrained_encoder_nse": 0.69,
    "encoder_nse": 0.70,
    "encoder_effective_rank": 24.5,
    "adaptor_nse": 0.42,
    "adaptor_effective_rank": 8.5,
    "drift_cka": 0.9966,
    "encoder_info_bits": 2.58,
    "adaptor_info_bits": -0.7,
    "llm_reduction_bits": 0.8,
    "encoder_share": 0.75,
}


def test_figures_of_the_experiment_and_reference():
    result = analysis_figures(analysis_dict())
    assert result["figures"] == pytest.approx(EXPECTED)
    assert set(result["figures"]) == set(EXPECTED)
    assert all(isinstance(v, float) for v in result["figures"].values())
    assert result["nse_per_layer"] == pytest.approx(
        {"encoder_layer_1": 0.57, "encoder_layer_2": 0.68, "encoder_output": 0.70, "adaptor_output": 0.42})
    assert all(k.startswith(("encoder_", "adaptor_")) for k in result["nse_per_layer"])


def test_order_of_entries_does_not_matter():
    data = analysis_dict()
    data["experiments"] = dict(reversed(list(data["experiments"].items())))
    assert analysis_figures(data)["figures"] == pytest.approx(EXPECTED)


def test_skipped_and_missing_figures_are_none():
    data = analysis_dict()
    exp = data["experiments"][EXP]
    exp["llm_entropy"] = {"skipped": "the model has no LLM"}
    exp["allocation"] = {"encoder_output": {"skipped": "no LLM-side measurement"},
                         "adaptor_output": {"skipped": "no LLM-side measurement"}}
    exp["phonetic_information"]["adaptor_output"] = {"skipped": "the model has no adaptor output"}
    del exp["phonetic_information"]["encoder_output"]["info_bits"]
    exp["spectra"]["adaptor_output"] = {"skipped": "the model has no adaptor output"}
    data["cka"]["to_reference"][EXP]["encoder_output_cka"] = None
    figures = analysis_figures(data)
    assert figures["figures"] == pytest.approx({
        **{k: None for k in EXPECTED},
        "pretrained_encoder_nse": 0.69, "encoder_nse": 0.70, "encoder_effective_rank": 24.5,
    })
    assert set(figures["nse_per_layer"]) == {"encoder_layer_1", "encoder_layer_2", "encoder_output"}


def test_non_numbers_are_none():
    data = analysis_dict()
    exp = data["experiments"][EXP]
    exp["allocation"]["encoder_output"]["encoder_share"] = True  # a bool is not a figure
    exp["llm_entropy"]["reduction_bits_per_token"] = "0.8"
    exp["spectra"]["encoder_output"]["effective_rank"] = None
    figures = analysis_figures(data)["figures"]
    assert figures["encoder_share"] is None
    assert figures["llm_reduction_bits"] is None
    assert figures["encoder_effective_rank"] is None
    assert figures["encoder_nse"] == pytest.approx(0.70)
    # integers become floats
    exp["llm_entropy"]["reduction_bits_per_token"] = 2
    value = analysis_figures(data)["figures"]["llm_reduction_bits"]
    assert value == 2.0 and isinstance(value, float)


def test_without_reference_or_cka():
    data = analysis_dict()
    del data["experiments"][REF]
    del data["cka"]
    figures = analysis_figures(data)["figures"]
    assert figures["pretrained_encoder_nse"] is None
    assert figures["drift_cka"] is None
    assert figures["encoder_nse"] == pytest.approx(0.70)
    # CKA to the reference is read for the experiment, not for another entry
    other = analysis_dict()
    other["cka"]["to_reference"] = {"someone_else": {"encoder_output_cka": 0.5}}
    assert analysis_figures(other)["figures"]["drift_cka"] is None


def test_without_experiment_everything_of_it_is_none():
    data = analysis_dict()
    del data["experiments"][EXP]
    result = analysis_figures(data)
    assert result["figures"]["pretrained_encoder_nse"] == pytest.approx(0.69)
    assert all(v is None for k, v in result["figures"].items() if k != "pretrained_encoder_nse")
    assert result["nse_per_layer"] == {}
    assert analysis_figures({})["figures"] == {k: None for k in EXPECTED}


def test_input_is_not_modified():
    data = analysis_dict()
    before = copy.deepcopy(data)
    analysis_figures(data)
    assert data == before


# ---------------------------------------------------------------- trainable parameters


def _log_line(stage, counts, when="2026-11-25 20:04:27,791"):
    return f"{when} INFO training stage {stage}: trainable elements per group {counts}"


def test_trainable_sums_the_last_matching_line(tmp_path):
    stage_dir = tmp_path / "ia_sft"
    stage_dir.mkdir()
    (stage_dir / "train.log").write_text("\n".join([
        "2026-11-25 20:10:40,000 INFO some other line {'x': 1}",
        _log_line("ia_sft", {"speech_encoder": 1000, "adaptor": 200, "llm": 30}),
        "[host] 2026-11-25 20:10:50,000 (trainer:100) INFO: 1epoch results: loss=1.0",
        # a resumed run logs the line again; the last one counts
        "[host] 2026-11-25 20:12:00,000 (stage_schedule:151) INFO: "
        + _log_line("ia_sft", {"speech_encoder": 0, "adaptor": 65792, "llm": 14336}, when="").lstrip(),
        "Traceback? no, just text after it",
    ]) + "\n")
    assert trainable_per_stage(stage_dir) == 65792 + 14336
    assert isinstance(trainable_per_stage(stage_dir), int)


def test_trainable_single_line(tmp_path):
    (tmp_path / "train.log").write_text(_log_line("pretrain", {"speech_encoder": 395712, "ctc_head": 397478}) + "\n")
    assert trainable_per_stage(tmp_path) == 395712 + 397478
    assert trainable_per_stage(str(tmp_path)) == 395712 + 397478


def test_trainable_none_without_log_or_line(tmp_path):
    assert trainable_per_stage(tmp_path / "missing") is None
    assert trainable_per_stage(tmp_path) is None
    (tmp_path / "train.log").write_text("INFO training started\nINFO 1epoch results: loss=2.0\n")
    assert trainable_per_stage(tmp_path) is None
    (tmp_path / "train.log").write_text("")
    assert trainable_per_stage(tmp_path) is None


def test_trainable_reads_the_line_the_trainer_writes(tmp_path):
    """Round trip with the real logger call of ``apply_training_stage``."""
    import logging

    import torch.nn as nn

    from espnet_llm_entropy.train.stage_schedule import StageSpec, apply_training_stage

    model = nn.Module()
    model.speech_encoder = nn.Linear(4, 3)  # 15 elements
    model.adaptor = nn.Linear(3, 2)  # 8 elements
    model.llm = nn.Linear(2, 2)  # frozen
    handler = logging.FileHandler(tmp_path / "train.log")
    handler.setFormatter(logging.Formatter("[host] %(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        counts = apply_training_stage(model, StageSpec(name="align", trainable=("speech_encoder", "adaptor")))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert counts == {"speech_encoder": 15, "adaptor": 8, "llm": 0}
    assert trainable_per_stage(tmp_path) == 23
