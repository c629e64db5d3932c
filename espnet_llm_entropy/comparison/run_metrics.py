"""Evaluate one trained run (paradigm, seed) and gather its figures into ``metrics.json``.

:func:`evaluate_run` decodes the test and non-speech sets with
``llm_asr_inference``, scores them (``score_hallucination`` and
:func:`~espnet_llm_entropy.evaluation.asr_scoring.score_by_language`), runs
the entropy-allocation analysis (``analyze_entropy``) and then
:func:`collect_run_metrics` reads every figure back from those outputs, so
each number in ``metrics.json`` is the one its tool wrote (keys:
:data:`~espnet_llm_entropy.comparison.metric_catalog.METRICS`).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.comparison.metric_catalog import METRICS
from espnet_llm_entropy.comparison.paradigm_spec import ParadigmSpec
from espnet_llm_entropy.comparison.paradigm_training import final_model, stage_done
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace
from espnet_llm_entropy.analysis.learning_curves import read_learning_curve
from espnet_llm_entropy.evaluation.asr_scoring import score_by_language
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.fileio.atomic import write_text_atomic
from espnet_llm_entropy.fileio.jsonl import read_jsonl

METRICS_FILE = "metrics.json"
_TRAINABLE_RE = re.compile(r"training stage (\w+): trainable elements per group (\{.*\})")


#: Decoded sets of a run: name -> (workspace attribute of its data dir, extra decoding options).
#: Non-speech is decoded twice: with the decoder's default CTC-evidence gate (which engages only
#: for models with a trained phone/character CTC head) and without it (the model's own behaviour).
DECODED_SETS = {
    "test": ("test_dir", ()),
    "nonspeech": ("nonspeech_dir", ()),
    "nonspeech_nogate": ("nonspeech_dir", ("--decoding_guard_conf", "ctc_gate=false")),
}


def decode_and_score(ws: ComparisonWorkspace, run_dir: Path, spec: ParadigmSpec, batch_size: int = 16,
                     in_process: bool = False) -> None:
    """Decode the :data:`DECODED_SETS` into ``<run_dir>/decode/<set>`` and score them (finished sets are kept).

    ``in_process``: run the decoder and scorer in this process (no ESPnet
    re-import per set; their output goes to this process's log) instead of
    one subprocess each with its log under ``<run_dir>/decode``.
    """
    model = final_model(run_dir, spec)
    for name, (attribute, extra) in DECODED_SETS.items():
        data_dir = getattr(ws, attribute)
        if data_dir is None:
            continue
        out = run_dir / "decode" / name
        if (out / "hallucination" / "hallucination.json").exists():
            continue
        if out.exists():
            shutil.rmtree(out)
        logs = {} if in_process else {"decode": run_dir / "decode" / f"{name}.log",
                                      "score": out / "score_hallucination.log"}
        hyp = espnet_steps.decode(model.parent, model, data_dir, out, batch_size, extra=list(extra),
                                  in_process=in_process, log_file=logs.get("decode")) / "text"
        nonspeech = attribute == "nonspeech_dir"
        espnet_steps.score_hallucination(hyp, data_dir, out / "hallucination", name.split("_")[0], nonspeech,
                                         in_process=in_process, log_file=logs.get("score"))


def analyze_run(ws: ComparisonWorkspace, run_dir: Path, spec: ParadigmSpec,
                phone_aligner: Optional[Path], max_utts: int, in_process: bool = False) -> Path:
    """Entropy-allocation analysis of the final model on the test set (``<run_dir>/analysis``).

    The CKA reference is the paradigm's pretrained encoder (the final
    pretraining checkpoint, which every SFT stage started from); phone
    labels come from ``phone_aligner`` (a phoneme pretraining of the same seed).
    """
    out = run_dir / "analysis"
    if (out / "metrics.json").exists():
        return out
    model = final_model(run_dir, spec)
    args = ["--exp_dir", model.parent, "--checkpoint", model.name, "--data_dir", ws.test_dir,
            "--out_dir", out, "--max_utts", max_utts, "--no_progress", "--log_level", "WARNING"]
    if spec.pretrain is not None:
        args += ["--reference_exp", run_dir / "pretrain", "--reference_checkpoint", "latest.pth"]
    if phone_aligner is not None:
        args += ["--phone_exp", phone_aligner]
    espnet_steps.run_entry_point("analyze_entropy", args, in_process=in_process,
                                 log_file=None if in_process else run_dir / "analysis.log")
    return out


def _number(value) -> Optional[float]:
    """A float, or None for a missing/skipped figure."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _get(data: Dict, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _experiment_entry(analysis: Dict) -> tuple:
    """(name, entry) of the analysed model (role ``experiment``) in an analysis ``metrics.json``."""
    entries = analysis.get("experiments", {})
    return next(((n, e) for n, e in entries.items() if e.get("role") == "experiment"), (None, {}))


def analysis_figures(analysis: Dict) -> Dict:
    """Representation figures of the ``experiment`` (and ``reference``) in an analysis ``metrics.json``."""
    entries = analysis.get("experiments", {})
    name, exp = _experiment_entry(analysis)
    reference = next((e for e in entries.values() if e.get("role") == "reference"), {})
    spectra = exp.get("spectra", {})
    figures = {
        "pretrained_encoder_nse": _number(_get(reference, "spectra", "encoder_output", "normalized_spectral_entropy")),
        "encoder_nse": _number(_get(spectra, "encoder_output", "normalized_spectral_entropy")),
        "encoder_effective_rank": _number(_get(spectra, "encoder_output", "effective_rank")),
        "adaptor_nse": _number(_get(spectra, "adaptor_output", "normalized_spectral_entropy")),
        "adaptor_effective_rank": _number(_get(spectra, "adaptor_output", "effective_rank")),
        "drift_cka": _number(_get(analysis, "cka", "to_reference", name, "encoder_output_cka")),
        "encoder_info_bits": _number(_get(exp, "phonetic_information", "encoder_output", "info_bits")),
        "adaptor_info_bits": _number(_get(exp, "phonetic_information", "adaptor_output", "info_bits")),
        "llm_reduction_bits": _number(_get(exp, "llm_entropy", "reduction_bits_per_token")),
        "encoder_share": _number(_get(exp, "allocation", "encoder_output", "encoder_share")),
    }
    nse_per_layer = {
        rep: values["normalized_spectral_entropy"] for rep, values in spectra.items()
        if rep.startswith(("encoder_", "adaptor_")) and isinstance(values, dict)
        and "normalized_spectral_entropy" in values
    }
    return {"figures": figures, "nse_per_layer": nse_per_layer}


def recognition_figures(ws: ComparisonWorkspace, run_dir: Path) -> Dict[str, Optional[float]]:
    """Error rates per language, hallucination and non-speech output rates from the decode dir."""
    decode = run_dir / "decode"
    scores = score_by_language(ws.test_dir / "text", decode / "test" / "1best_recog" / "text",
                               ws.test_dir / "utt2lang")
    figures = {key: _number(_get(scores, lang, "rate"))
               for key, lang in (("mer", "all"), ("cer_zh", "zh"), ("wer_en", "en"), ("mer_cs", "cs"))}
    test = json.loads((decode / "test" / "hallucination" / "hallucination.json").read_text())
    figures["hallucination_rate"] = _number(_get(test, "speech", "hallucination", "rate"))
    for name, suffix in (("nonspeech", ""), ("nonspeech_nogate", "_nogate")):
        path = decode / name / "hallucination" / "hallucination.json"
        nonspeech = json.loads(path.read_text()) if path.exists() else {}
        figures[f"nonspeech_output_rate{suffix}"] = _number(_get(nonspeech, "nonspeech", "with_output", "rate"))
        figures[f"nonspeech_units_per_min{suffix}"] = _number(_get(nonspeech, "nonspeech", "units_per_minute"))
    return figures


def trainable_per_stage(stage_dir: Path) -> Optional[int]:
    """Trainable parameters of a stage, from the trainer's log line in ``train.log``."""
    log = Path(stage_dir) / "train.log"
    if not log.exists():
        return None
    counts = None
    for line in log.read_text(errors="replace").splitlines():
        match = _TRAINABLE_RE.search(line)
        if match:
            counts = ast.literal_eval(match.group(2))
    return None if counts is None else int(sum(counts.values()))


def training_outcome(run_dir: Path, spec: ParadigmSpec) -> Dict[str, Optional[float]]:
    """How far the run's trainings got, from ESPnet's reporter state (``checkpoint.pth``).

    Returns:
        ``pretrain_dev_error``: the pretraining's dev PER (CER with character
        units) after its last epoch, the encoder every later stage starts
        from (None without pretraining); ``final_dev_acc``: the last stage's
        dev token accuracy after its last epoch.
    """
    def last_valid(stage: str, key: str) -> Optional[float]:
        rows = read_learning_curve(Path(run_dir) / stage)
        return _number(rows[-1].get(f"valid_{key}")) if rows else None

    return {
        "pretrain_dev_error": last_valid(spec.pretrain.stage, "per") if spec.pretrain is not None else None,
        "final_dev_acc": last_valid(spec.stages[-1].stage, "acc"),
    }


def _trace(path: Path) -> List[Dict]:
    return [{"step": r["step"], "cka": r["cka"]} for r in read_jsonl(path)
            if r.get("cka") is not None and r.get("step") is not None]


def collect_run_metrics(run_dir: Path, spec: ParadigmSpec, seed: int, ws: ComparisonWorkspace) -> Dict:
    """Every figure of one run, read back from the outputs of training, decoding, scoring, analysis."""
    run_dir = Path(run_dir)
    analysis = json.loads((run_dir / "analysis" / "metrics.json").read_text())
    representation = analysis_figures(analysis)
    metrics: Dict[str, Optional[float]] = {}
    metrics.update(recognition_figures(ws, run_dir))
    metrics.update(representation["figures"])
    metrics.update(training_outcome(run_dir, spec))
    records = {run.stage: stage_done(run_dir / run.stage) for run in spec.stages}
    last = spec.stages[-1].stage
    metrics["trainable_params"] = trainable_per_stage(run_dir / last)
    total = _experiment_entry(analysis)[1].get("num_parameters")  # counted by the analysis' model load
    metrics["total_params"] = None if total is None else int(total)
    metrics["train_steps"] = sum(r["steps"] for r in records.values())
    metrics["train_time_s"] = round(sum(r["wall_s"] for r in records.values()), 1)
    missing = [m.key for m in METRICS if m.key not in metrics]
    if missing:
        raise KeyError(f"metrics not collected: {missing}")
    return {
        "paradigm": spec.name,
        "label": spec.label,
        "seed": seed,
        "metrics": metrics,
        "nse_per_layer": representation["nse_per_layer"],
        "drift_trace": _trace(run_dir / last / "drift_trace.jsonl"),
        "pretrain_trace": _trace(run_dir / "pretrain" / "cka_trace.jsonl") if spec.pretrain else [],
        "stages": records,
        "trainable_per_stage": {run.stage: trainable_per_stage(run_dir / run.stage) for run in spec.stages},
        "sources": {"analysis": str(run_dir / "analysis" / "metrics.json"),
                    "decode": str(run_dir / "decode"), "paradigm_file": str(spec.source)},
    }


def evaluate_run(ws: ComparisonWorkspace, run_dir: Path, spec: ParadigmSpec, seed: int,
                 phone_aligner: Optional[Path], max_utts: int = 60, batch_size: int = 16,
                 in_process: bool = False) -> Dict:
    """Decode, score, analyse and write ``<run_dir>/metrics.json`` (atomically); returns it.

    ``in_process``: every decoding, scoring and the analysis run in this
    process; otherwise each is a subprocess (see :func:`evaluate_run_in_worker`
    for one subprocess doing all of them).
    """
    decode_and_score(ws, run_dir, spec, batch_size, in_process)
    analyze_run(ws, run_dir, spec, phone_aligner, max_utts, in_process)
    result = collect_run_metrics(run_dir, spec, seed, ws)
    write_text_atomic(run_dir / METRICS_FILE, json.dumps(result, indent=1, ensure_ascii=False))
    return result


def evaluate_run_in_worker(ws: ComparisonWorkspace, run_dir: Path, spec: ParadigmSpec, seed: int,
                           phone_aligner: Optional[Path], max_utts: int = 60, batch_size: int = 16) -> Dict:
    """:func:`evaluate_run` in one subprocess (``evaluate_comparison_run``); returns ``metrics.json``.

    One process for the three decodings, their scoring and the analysis
    imports ESPnet once instead of seven times (about 15 s each on a 2-core
    CPU machine). The workspace goes to ``<run_dir>/workspace.json``, the
    worker's output to ``<run_dir>/evaluation.log``; a failure raises with
    the log's tail. The figures are those of a run evaluated in this
    process (tested) and of :func:`evaluate_run` with one subprocess per
    step (checked on a quick comparison run, docs/paradigm_comparison.md).
    """
    run_dir = Path(run_dir)
    ws_file = run_dir / "workspace.json"
    write_text_atomic(ws_file, ws.to_json())
    args = ["--workspace", ws_file, "--paradigm_file", spec.source, "--run_dir", run_dir, "--seed", seed,
            "--max_utts", max_utts, "--batch_size", batch_size]
    if phone_aligner is not None:
        args += ["--phone_aligner", phone_aligner]
    espnet_steps.run_entry_point("evaluate_comparison_run", args, in_process=False,
                                 log_file=run_dir / "evaluation.log")
    return json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
