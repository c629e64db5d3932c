"""``analyze_entropy`` on a tiny trained pretrain + SFT pair: outputs, values, errors."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from espnet_llm_entropy.analysis import (
    accessible_information,
    allocation_from_measurements,
    ctc_forced_align,
    linear_cka,
    llm_entropy_reduction,
    spectral_metrics,
)
from espnet_llm_entropy.analysis.data_dir_batches import collate_for_experiment, iterate_raw_batches
from espnet_llm_entropy.analysis.experiment_loading import load_experiment
from espnet_llm_entropy.analysis.extract import extract_batch
from espnet_llm_entropy.bin import analyze_entropy


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Mini corpus (6/2/3 utterances), 1-epoch phoneme-CTC pretraining, 1-epoch LLM-ASR SFT."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (needed to synthesise the mini corpus; run `make setup`)")
    from espnet_llm_entropy.pipeline import espnet_steps
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    root = tmp_path_factory.mktemp("analysis_exp")
    exp = build_tiny_experiment(root, 6, 2, 3)
    common = [exp.phones, exp.data / "train", exp.data / "dev", exp.stats]
    pre = espnet_steps.train(exp.pretrain_config, *common, root / "exp_pretrain",
                             extra=["--max_epoch", "1", "--batch_size", "3"])
    sft = espnet_steps.train(exp.sft_config, *common, root / "exp_sft",
                             extra=["--llm_conf", f"path={exp.llm_dir}", "--speech_encoder_init",
                                    pre / "1epoch.pth", "--max_epoch", "1", "--batch_size", "3"])
    return root, pre, sft, exp.data / "test"


@pytest.fixture(scope="module")
def analysed(trained):
    root, pre, sft, test = trained
    out = root / "analysis"
    metrics = analyze_entropy.main(["--exp_dir", str(pre), "--exp_dir", str(sft), "--data_dir", str(test),
                                    "--out_dir", str(out), "--phone_exp", str(pre), "--batch_size", "2",
                                    "--no_progress"])
    return out, metrics


def _direct_measurements(metrics, test):
    """Recompute the representations with extract_batch, without the analysis runner."""
    names = list(metrics["experiments"])
    exps = [load_experiment(metrics["experiments"][n]["exp_dir"], metrics["experiments"][n]["checkpoint"])
            for n in names]
    enc = {n: [] for n in names}
    nll, prior, tokens, labels, groups, phones = [], [], [], [], [], 0
    utt = 0
    for raw in iterate_raw_batches(test, batch_size=2):
        reps = {}
        for name, exp in zip(names, exps):
            _, batch = collate_for_experiment(raw, exp.preprocess_fn, exp.collate_fn)
            reps[name] = extract_batch(exp.model, batch["speech"], batch["speech_lengths"],
                                       batch.get("llm_tokens"), batch.get("llm_tokens_lengths"))
            enc[name].append(reps[name].encoder_out)
            if exp.has_llm:
                nll.append(reps[name].nll_with_speech)
                prior.append(reps[name].nll_without_speech)
                tokens.append(reps[name].num_scored_tokens)
            else:  # the phoneme-CTC experiment aligns the phone labels
                phones += int(batch["text_lengths"].sum())
                frames = torch.split(reps[name].ctc_log_probs, reps[name].encoder_lengths.tolist())
                for b, lp in enumerate(frames):
                    target = batch["text"][b, : int(batch["text_lengths"][b])]
                    labels.append(ctc_forced_align(lp, target, blank=0, blank_handling="nearest"))
                    groups.append(torch.full((lp.shape[0],), utt + b))
        utt += len(raw.keys)
    return names, exps, {n: torch.cat(v) for n, v in enc.items()}, (torch.cat(nll), torch.cat(prior), torch.cat(tokens)), \
        (torch.cat(labels), torch.cat(groups), phones)


@pytest.mark.slow
def test_cli_writes_every_output(analysed):
    out, metrics = analysed
    expected = {"metrics.json", "summary.md", "cka_layers.png", "nse_per_layer.png", "allocation.png",
                "training_traces.png"}
    assert expected <= {p.name for p in out.iterdir()}
    assert not any(p.name.startswith(".") for p in out.iterdir())
    assert json.loads((out / "metrics.json").read_text())["experiments"].keys() == metrics["experiments"].keys()
    summary = (out / "summary.md").read_text()
    for name in metrics["experiments"]:
        assert name in summary
    for png in expected - {"metrics.json", "summary.md"}:
        image = np.asarray(Image.open(out / png).convert("RGB"))
        assert image.shape[0] > 150 and image.shape[1] > 150, png
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20, png


@pytest.mark.slow
def test_metrics_equal_the_library_on_directly_extracted_features(analysed, trained):
    _, metrics = analysed
    test = trained[3]
    names, exps, enc, (nll, prior, tokens), (labels, groups, phones) = _direct_measurements(metrics, test)
    pre_name, sft_name = names
    assert metrics["reference"] == pre_name
    assert exps[1].has_llm and not exps[0].has_llm
    for name in names:
        got = metrics["experiments"][name]["spectra"]["encoder_output"]
        for key, value in spectral_metrics(enc[name]).items():
            assert got[key] == pytest.approx(value, rel=1e-6), (name, key)
    cka = metrics["cka"]["to_reference"][sft_name]
    assert cka["encoder_output_cka"] == pytest.approx(float(linear_cka(enc[pre_name], enc[sft_name])), abs=1e-6)
    assert cka["encoder_output_cka_unbiased"] == pytest.approx(
        float(linear_cka(enc[pre_name], enc[sft_name], unbiased=True)), abs=1e-6)

    llm = llm_entropy_reduction(nll, prior, tokens)
    got_llm = metrics["experiments"][sft_name]["llm_entropy"]
    for key, value in llm.items():
        assert got_llm[key] == pytest.approx(value, rel=1e-6), key

    sft = metrics["experiments"][sft_name]
    assert sft["phone_labels"]["aligner"] == pre_name and sft["phone_labels"]["num_phones"] == phones
    info = accessible_information(enc[sft_name], labels, len(exps[0].token_list), groups=groups, seed=0)
    got_info = sft["phonetic_information"]["encoder_output"]
    for key in ("h_prior_bits", "h_conditional_bits", "info_bits", "num_train", "num_heldout"):
        assert got_info[key] == pytest.approx(info[key], rel=1e-5), key
    try:
        alloc = allocation_from_measurements(info["info_bits"], phones, llm["num_tokens"],
                                             llm["reduction_bits_per_token"])
    except ValueError as e:
        assert sft["allocation"]["encoder_output"] == {"skipped": str(e)}
    else:
        for key, value in alloc.items():
            assert sft["allocation"]["encoder_output"][key] == pytest.approx(value), key
    pre = metrics["experiments"][pre_name]
    assert "skipped" in pre["llm_entropy"] and "adaptor" in pre["phonetic_information"]["adaptor_output"]["skipped"]
    assert pre["training_traces"]["cka_trace"][-1]["event"] == "final"


@pytest.mark.slow
def test_frame_and_utterance_caps(trained, tmp_path):
    root, pre, sft, test = trained
    metrics = analyze_entropy.main(["--exp_dir", str(sft), "--data_dir", str(test), "--out_dir",
                                    str(tmp_path), "--max_utts", "2", "--max_frames", "30", "--no_plots",
                                    "--llm_layer_stride", "2", "--no_progress"])
    (exp,) = metrics["experiments"].values()
    assert metrics["num_utterances"] == exp["num_utterances"] == 2
    assert exp["spectra"]["encoder_output"]["num_frames"] == 30
    assert "llm_layer_2_speech" in exp["spectra"] and "llm_layer_1_speech" not in exp["spectra"]
    assert exp["phonetic_information"]["encoder_output"]["skipped"].startswith("the model has no CTC head")
    assert metrics["reference"] is None and metrics["cka"]["to_reference"] == {}
    assert {p.name for p in tmp_path.iterdir()} == {"metrics.json", "summary.md"}


@pytest.mark.slow
def test_bad_paths_are_clear_errors(trained, tmp_path, capsys):
    root, pre, sft, test = trained
    cases = [
        (["--exp_dir", str(root / "nope"), "--data_dir", str(test)], "nope: no such directory"),
        (["--exp_dir", str(pre), "--checkpoint", "9epoch.pth", "--data_dir", str(test)], "1epoch.pth"),
        (["--exp_dir", str(pre), "--data_dir", str(root / "nodata")], "nodata: no such directory"),
        (["--exp_dir", str(pre), "--data_dir", str(root / "data")], "no wav.scp"),
        (["--exp_dir", str(pre), "--exp_dir", str(sft), "--checkpoint", "a", "--checkpoint", "b",
          "--checkpoint", "c", "--data_dir", str(test)], "once per experiment"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as err:
            analyze_entropy.main(args + ["--out_dir", str(tmp_path / "out"), "--no_progress"])
        assert message in str(err.value), args
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_help(capsys):
    with pytest.raises(SystemExit):
        analyze_entropy.main(["--help"])
    out = capsys.readouterr().out
    for option in ("--exp_dir", "--reference_exp", "--phone_exp", "--max_frames", "--max_utts"):
        assert option in out


def test_checkpoint_resolution(tmp_path):
    from espnet_llm_entropy.analysis.experiment_loading import resolve_checkpoint

    for name in ("2epoch.pth", "10epoch.pth", "latest.pth"):
        (tmp_path / name).write_bytes(b"")
    assert resolve_checkpoint(tmp_path).name == "10epoch.pth"
    (tmp_path / "valid.per.best.pth").write_bytes(b"")
    assert resolve_checkpoint(tmp_path).name == "valid.per.best.pth"
    assert resolve_checkpoint(tmp_path, "2epoch.pth").name == "2epoch.pth"
    with pytest.raises(FileNotFoundError, match="available: 10epoch.pth, 2epoch.pth"):
        resolve_checkpoint(tmp_path, "3epoch.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        resolve_checkpoint(empty)


def test_unknown_option_is_named():
    from espnet_llm_entropy.analysis.analysis_run import AnalysisOptions
    from espnet_llm_entropy.analysis.report import analyze_experiments

    with pytest.raises(TypeError, match="max_frame"):
        analyze_experiments(["exp"], "data", "out", max_frame=3)
    assert AnalysisOptions.from_kwargs(max_frames=3).max_frames == 3
