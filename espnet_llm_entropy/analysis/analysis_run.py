"""One analysis run: experiments x data dir -> metrics dict (files: see ``report``).

:func:`run_analysis` loads every experiment once, streams the data dir
batch by batch (each experiment sees the same utterances through its own
preprocessor), extracts representations with forward hooks
(:mod:`~espnet_llm_entropy.analysis.extract`) and feeds them straight into
bounded-memory accumulators:

* spectra (NSE, effective rank, RankMe) per encoder layer, encoder output,
  adaptor output and LLM layer (speech / transcript positions);
* layer-by-layer linear CKA within each experiment's encoder and between each
  experiment and the reference experiment (``reference_exp``, else the first
  experiment when there are several), plus CKA of the adaptor outputs;
* frame-level phone labels from a CTC forced alignment with the model's own
  CTC head, or with the head of ``phone_exp`` (run on the same audio), and
  linear probes on encoder and adaptor frames (accessible information);
* transcript NLL under the LLM with and without the speech; the allocation
  of the entropy reduction between encoder and LLM.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch

from espnet_llm_entropy.analysis.data_dir_batches import (
    check_data_dir,
    collate_for_experiment,
    count_utterances,
    iterate_raw_batches,
)
from espnet_llm_entropy.analysis.experiment_loading import LoadedExperiment, load_experiment
from espnet_llm_entropy.analysis.extract import extract_batch
from espnet_llm_entropy.analysis.trainer_traces import read_training_traces
from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.metrics.cka import CKAAccumulator
from espnet_llm_entropy.metrics.experiment_metrics import (
    allocation_report,
    llm_report,
    phonetic_report,
    skipped,
    spectral_report,
)
from espnet_llm_entropy.metrics.frame_phone_labels import align_batch_phones, pool_labels
from espnet_llm_entropy.metrics.layer_cka import CKAMatrixAccumulator
from espnet_llm_entropy.metrics.representation_stats import ExperimentStatistics

PathLike = Union[str, Path]


@dataclass
class AnalysisOptions:
    """Options of :func:`~espnet_llm_entropy.analysis.report.analyze_experiments` (and of the CLI).

    Attributes:
        checkpoints: one checkpoint name for every experiment, or one per
            experiment (None: each experiment's best/latest checkpoint).
        reference_exp: experiment every other one is compared with by CKA
            (None: the first experiment when there are several).
        reference_checkpoint: checkpoint of the reference experiment.
        phone_exp: phoneme-CTC experiment whose CTC head aligns the phone
            labels of experiments without their own head.
        phone_checkpoint: its checkpoint.
        max_utts: use the first N utterances of the data dir.
        max_frames: per-stream cap on frames entering the frame statistics.
        batch_size: utterances per batch.
        probe: probe family (``linear`` or ``mlp``).
        probe_max_frames: labelled frames kept per probed representation.
        llm_layer_stride: spectra of LLM layers k, 2k, ... and the last only.
        blank_handling: labels of CTC blank frames (``nearest``/``previous``/``keep``).
        seed: probe split / training seed.
        device: torch device of the models.
        plots: write PNG plots.
        show_progress: tqdm progress bar.
    """

    checkpoints: Optional[Sequence[str]] = None
    reference_exp: Optional[PathLike] = None
    reference_checkpoint: Optional[str] = None
    phone_exp: Optional[PathLike] = None
    phone_checkpoint: Optional[str] = None
    max_utts: Optional[int] = None
    max_frames: Optional[int] = None
    batch_size: int = 8
    probe: str = "linear"
    probe_max_frames: int = 20000
    llm_layer_stride: int = 1
    blank_handling: str = "nearest"
    seed: int = 0
    device: str = "cpu"
    plots: bool = True
    show_progress: bool = True

    @classmethod
    def from_kwargs(cls, **options) -> "AnalysisOptions":
        """Build from keyword arguments, naming unknown ones."""
        return dataclass_from_mapping(cls, options, "analyze_experiments", error=TypeError)


def _checkpoints_per_experiment(exp_dirs: Sequence[PathLike], checkpoints) -> List[Optional[str]]:
    if not checkpoints:
        return [None] * len(exp_dirs)
    if isinstance(checkpoints, str):
        checkpoints = [checkpoints]
    if len(checkpoints) == 1:
        return list(checkpoints) * len(exp_dirs)
    if len(checkpoints) != len(exp_dirs):
        raise ValueError(
            f"--checkpoint was given {len(checkpoints)} times for {len(exp_dirs)} --exp_dir: "
            "give it once (for all) or once per experiment"
        )
    return list(checkpoints)


def _unique_name(name: str, taken: Dict[str, object]) -> str:
    unique, index = name, 2
    while unique in taken:
        unique, index = f"{name}#{index}", index + 1
    return unique


class _AnalysisState:
    """Accumulators of every experiment and every CKA comparison."""

    def __init__(self, experiments: List[LoadedExperiment], reference: Optional[str], phone: Optional[LoadedExperiment], options: AnalysisOptions):
        self.experiments = experiments
        self.reference = reference
        self.phone = phone
        self.options = options
        self.stats = {
            e.name: ExperimentStatistics(options.max_frames, options.probe_max_frames, options.llm_layer_stride)
            for e in experiments
        }
        self.self_cka: Dict[str, Optional[CKAMatrixAccumulator]] = {e.name: None for e in experiments}
        self.ref_cka: Dict[str, Optional[CKAMatrixAccumulator]] = {}
        self.adaptor_cka: Dict[str, Optional[CKAAccumulator]] = {}
        self.cka_skipped: Dict[str, str] = {}
        self.aligner: Dict[str, Optional[LoadedExperiment]] = {}
        self.label_reason: Dict[str, Optional[str]] = {}
        self.align_failures: Dict[str, int] = {e.name: 0 for e in experiments}
        for exp in experiments:
            if getattr(exp.model, "ctc_head", None) is not None:
                self.aligner[exp.name], self.label_reason[exp.name] = exp, None
            elif phone is not None:
                self.aligner[exp.name], self.label_reason[exp.name] = phone, None
            else:
                self.aligner[exp.name] = None
                self.label_reason[exp.name] = (
                    "the model has no CTC head and no --phone_exp was given to align phone labels"
                )

    # ------------------------------------------------------------- labels
    def labels(self, exp: LoadedExperiment, reps: Dict[str, BatchRepresentations], batches: Dict[str, Dict], cache: Dict):
        """(encoder labels, adaptor labels, phones) of ``exp`` for this batch, or Nones."""
        aligner = self.aligner[exp.name]
        if aligner is None or self.label_reason[exp.name] is not None:
            return None, None, 0
        mine, theirs = reps[exp.name], reps[aligner.name]
        if not torch.equal(mine.encoder_lengths, theirs.encoder_lengths):
            self.label_reason[exp.name] = (
                f"the phone aligner {aligner.name} produces {theirs.encoder_lengths.tolist()} encoder "
                f"frames but {exp.name} produces {mine.encoder_lengths.tolist()} (different frontend "
                "or subsampling)"
            )
            return None, None, 0
        batch = batches[aligner.name]
        if "text" not in batch:
            self.label_reason[exp.name] = f"{aligner.name}'s preprocessor gave no phone ids"
            return None, None, 0
        if aligner.name not in cache:
            cache[aligner.name] = align_batch_phones(
                theirs.ctc_log_probs, theirs.encoder_lengths, batch["text"], batch["text_lengths"],
                blank=aligner.blank_id, blank_handling=self.options.blank_handling,
            )
        enc_labels, failed = cache[aligner.name]
        self.align_failures[exp.name] += failed
        ad_labels = None
        stack = getattr(getattr(exp.model, "adaptor", None), "stack", None)
        if mine.adaptor_out is not None and stack is not None:
            ad_labels = pool_labels(enc_labels, mine.encoder_lengths, int(stack), mine.adaptor_lengths)
        return enc_labels, ad_labels, int(batch["text_lengths"].sum())

    # ---------------------------------------------------------------- CKA
    def update_cka(self, used: Dict[str, Dict]) -> None:
        """Feed this batch's used frames into the CKA accumulators."""
        for exp in self.experiments:
            layers = list(used[exp.name]["encoder"].values())
            if layers[0].shape[0] == 0:
                continue
            if self.self_cka[exp.name] is None:
                dims = [int(x.shape[1]) for x in layers]
                self.self_cka[exp.name] = CKAMatrixAccumulator(dims, dims)
            self.self_cka[exp.name].update(layers, layers)
            if self.reference is None or exp.name == self.reference or exp.name in self.cka_skipped:
                continue
            ref_layers = list(used[self.reference]["encoder"].values())
            if ref_layers[0].shape[0] != layers[0].shape[0]:
                self.cka_skipped[exp.name] = (
                    f"{exp.name} and the reference {self.reference} produce different numbers of "
                    "encoder frames for the same audio; CKA needs the same frames"
                )
                continue
            if exp.name not in self.ref_cka:
                self.ref_cka[exp.name] = CKAMatrixAccumulator(
                    [int(x.shape[1]) for x in ref_layers], [int(x.shape[1]) for x in layers]
                )
            self.ref_cka[exp.name].update(ref_layers, layers)
            mine_ad, ref_ad = used[exp.name]["adaptor_output"], used[self.reference]["adaptor_output"]
            if mine_ad is not None and ref_ad is not None and mine_ad.shape[0] == ref_ad.shape[0]:
                if exp.name not in self.adaptor_cka:
                    self.adaptor_cka[exp.name] = CKAAccumulator(int(ref_ad.shape[1]), int(mine_ad.shape[1]))
                self.adaptor_cka[exp.name].update(ref_ad, mine_ad)


def _compute_matrix(acc: Optional[CKAMatrixAccumulator], unbiased: bool):
    if acc is None:
        return None, "no frames"
    try:
        return acc.compute(unbiased=unbiased), None
    except ValueError as e:
        return None, str(e)


def _cka_report(state: _AnalysisState, names: Dict[str, List[str]]) -> Dict:
    report: Dict[str, Dict] = {"within_experiment": {}, "to_reference": {}}
    for exp in state.experiments:
        labels = names[exp.name]
        matrix, error = _compute_matrix(state.self_cka[exp.name], unbiased=False)
        report["within_experiment"][exp.name] = (
            skipped(error) if matrix is None else {"rows": labels, "cols": labels, "matrix": matrix.tolist()}
        )
        if state.reference is None or exp.name == state.reference:
            continue
        if exp.name in state.cka_skipped:
            report["to_reference"][exp.name] = skipped(state.cka_skipped[exp.name])
            continue
        matrix, error = _compute_matrix(state.ref_cka.get(exp.name), unbiased=False)
        if matrix is None:
            report["to_reference"][exp.name] = skipped(error)
            continue
        entry = {
            "reference": state.reference,
            "rows": names[state.reference],
            "cols": labels,
            "matrix": matrix.tolist(),
            "encoder_output_cka": float(matrix[-1, -1]),
        }
        unbiased, error = _compute_matrix(state.ref_cka[exp.name], unbiased=True)
        entry["encoder_output_cka_unbiased"] = None if unbiased is None else float(unbiased[-1, -1])
        adaptor = state.adaptor_cka.get(exp.name)
        entry["adaptor_output_cka"] = None
        if adaptor is not None:
            try:
                entry["adaptor_output_cka"] = float(adaptor.compute())
            except ValueError as e:
                entry["adaptor_output_cka"] = skipped(str(e))
        report["to_reference"][exp.name] = entry
    return report


def _load_all(exp_dirs, options: AnalysisOptions):
    checkpoints = _checkpoints_per_experiment(exp_dirs, options.checkpoints)
    by_path: Dict[tuple, LoadedExperiment] = {}
    named: Dict[str, LoadedExperiment] = {}

    def load(exp_dir, checkpoint, role):
        exp = load_experiment(Path(exp_dir), checkpoint, options.device)
        key = (exp.exp_dir.resolve(), exp.checkpoint.resolve())
        if key in by_path:
            if role == "experiment":
                logging.warning("%s (%s) is the same checkpoint as %s: analysed once",
                                exp_dir, exp.checkpoint.name, by_path[key].name)
            return by_path[key], False
        exp.name = _unique_name(exp.name, named)
        logging.info("loaded %s (%s) as %s", exp.name, type(exp.model).__name__, role)
        by_path[key] = exp
        return exp, True

    experiments: List[LoadedExperiment] = []
    reference = None
    if options.reference_exp is not None:
        ref, _ = load(options.reference_exp, options.reference_checkpoint, "reference")
        named[ref.name] = ref
        experiments.append(ref)
        reference = ref.name
    for exp_dir, checkpoint in zip(exp_dirs, checkpoints):
        exp, new = load(exp_dir, checkpoint, "experiment")
        if new:
            named[exp.name] = exp
            experiments.append(exp)
    if reference is None and len(experiments) > 1:
        reference = experiments[0].name
    phone = None
    if options.phone_exp is not None:
        phone, new = load(options.phone_exp, options.phone_checkpoint, "phone aligner")
        if getattr(phone.model, "ctc_head", None) is None:
            raise ValueError(f"--phone_exp {options.phone_exp}: model {type(phone.model).__name__} has no CTC head")
        if new:
            named[phone.name] = phone
    return experiments, reference, phone


def run_analysis(exp_dirs: Sequence[PathLike], data_dir: PathLike, options: AnalysisOptions) -> Dict:
    """Stream the data dir through every experiment and compute all metrics (no files written).

    Returns:
        The metrics dict that ``report.analyze_experiments`` writes to ``metrics.json``.
    """
    from tqdm import tqdm

    if not exp_dirs:
        raise ValueError("at least one --exp_dir is required")
    check_data_dir(Path(data_dir))
    experiments, reference, phone = _load_all(exp_dirs, options)
    models = list(experiments) + ([phone] if phone is not None and phone not in experiments else [])
    state = _AnalysisState(experiments, reference, phone, options)

    total = count_utterances(Path(data_dir), options.max_utts)
    progress = tqdm(total=total, desc="analyze_entropy", unit="utt", disable=not options.show_progress)
    rep_names: Dict[str, List[str]] = {}
    for raw in iterate_raw_batches(Path(data_dir), options.batch_size, options.max_utts):
        reps, batches = {}, {}
        for exp in models:
            if exp.sample_rate is not None and exp.sample_rate != raw.sample_rate:
                raise ValueError(
                    f"{data_dir}/wav.scp is sampled at {raw.sample_rate} Hz but {exp.name} expects "
                    f"{exp.sample_rate} Hz (frontend_conf.fs)"
                )
            _, batch = collate_for_experiment(raw, exp.preprocess_fn, exp.collate_fn)
            batches[exp.name] = batch
            on_device = {k: v.to(options.device) for k, v in batch.items()}
            with_llm = exp in experiments
            reps[exp.name] = extract_batch(
                exp.model, on_device["speech"], on_device["speech_lengths"],
                on_device.get("llm_tokens") if with_llm else None,
                on_device.get("llm_tokens_lengths") if with_llm else None,
            )
        used, cache = {}, {}
        for exp in experiments:
            enc_labels, ad_labels, phones = state.labels(exp, reps, batches, cache)
            used[exp.name] = state.stats[exp.name].update(reps[exp.name], enc_labels, ad_labels, phones)
            rep_names[exp.name] = list(used[exp.name]["encoder"])
        state.update_cka(used)
        progress.update(len(raw.keys))
    progress.close()

    results = {}
    for exp in experiments:
        stats = state.stats[exp.name]
        aligner = state.aligner[exp.name]
        num_classes = len(aligner.token_list) if aligner is not None else None
        phonetic = phonetic_report(
            stats, num_classes, state.label_reason[exp.name], options.probe, options.seed,
        )
        llm = llm_report(stats, exp.has_llm)
        results[exp.name] = {
            "exp_dir": str(exp.exp_dir),
            "checkpoint": str(exp.checkpoint),
            "model": type(exp.model).__name__,
            "role": "reference" if exp.name == reference else "experiment",
            "num_parameters": sum(p.numel() for p in exp.model.parameters()),
            "num_utterances": stats.num_utterances,
            "spectra": spectral_report(stats),
            "phone_labels": {
                "aligner": None if aligner is None else aligner.name,
                "reason_missing": state.label_reason[exp.name],
                "failed_utterances": state.align_failures[exp.name],
                "num_phones": stats.num_phones,
                "blank_handling": options.blank_handling,
            },
            "phonetic_information": phonetic,
            "llm_entropy": llm,
            "allocation": allocation_report(stats, phonetic, llm),
            "training_traces": read_training_traces(exp.exp_dir),
        }
    return {
        "data_dir": str(data_dir),
        "num_utterances": total,
        "reference": reference,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "experiments": results,
        "cka": _cka_report(state, rep_names),
    }

