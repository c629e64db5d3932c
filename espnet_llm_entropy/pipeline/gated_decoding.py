"""Calibrate the CTC-evidence gate on dev data, then decode several sets with and without it.

What the demo does for every model it reports (its main model, the
robustness-trained one, the GRPO comparison's arms): one call runs
``calibrate_ctc_gate`` and every ``llm_asr_inference`` decoding of that
model in the calling process, so ESPnet and the model's libraries are
imported once per model instead of once per decoding. The demo runs it as
one subprocess per model (``python -m espnet_llm_entropy.bin.decode_with_gate``)
with its log beside the output.

Layout::

    <out_dir>/gate_calibration.json         threshold chosen on dev
    <out_dir>/<set>/1best_recog/text        decoded with the gate (asr.sh stage 12 layout)
    <out_dir>_nogate/<set>/1best_recog/     the no-gate sets, decoded with ``ctc_gate=false``
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from espnet_llm_entropy.pipeline import espnet_steps

#: Suffix of the directory holding the decodings without the gate.
NOGATE_SUFFIX = "_nogate"


def nogate_dir(out_dir: Path) -> Path:
    """``<out_dir>_nogate``: where the decodings without the gate go."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + NOGATE_SUFFIX)


@dataclass
class GatedDecodingJob:
    """One model's decodings.

    Attributes:
        asr_train_config: the model's ``config.yaml``.
        asr_model_file: its checkpoint.
        data_root: parent of the Kaldi data dirs named in ``sets``.
        out_dir: output root (see the module docstring).
        sets: data dirs under ``data_root`` decoded with the calibrated gate.
        nogate_sets: data dirs (a subset of ``sets`` or others) decoded again without the gate.
        calibration_speech_dir / calibration_nonspeech_dir: dev speech and dev non-speech
            the threshold is chosen on (never a test set).
        batch_size: decoding batch size.
        decode_config: a decoding config (``--config`` of ``llm_asr_inference``: beam size,
            CTC weight, guards); None: the decoder's defaults (greedy). The calibrated
            threshold and ``ctc_gate=false`` are set on top of it.
    """

    asr_train_config: Path
    asr_model_file: Path
    data_root: Path
    out_dir: Path
    sets: List[str]
    calibration_speech_dir: Path
    calibration_nonspeech_dir: Path
    nogate_sets: List[str] = field(default_factory=list)
    batch_size: int = 16
    decode_config: Optional[Path] = None

    def check(self) -> None:
        """Raise FileNotFoundError naming the first missing input."""
        for name, path in (("asr_train_config", self.asr_train_config), ("asr_model_file", self.asr_model_file)):
            if not Path(path).is_file():
                raise FileNotFoundError(f"--{name} {path}: no such file")
        if self.decode_config is not None and not Path(self.decode_config).is_file():
            raise FileNotFoundError(f"--decode_config {self.decode_config}: no such file")
        for name, path in (("calibration_speech_dir", self.calibration_speech_dir),
                           ("calibration_nonspeech_dir", self.calibration_nonspeech_dir)):
            if not (Path(path) / "wav.scp").is_file():
                raise FileNotFoundError(f"--{name} {path}: no wav.scp in it")
        for name in [*self.sets, *self.nogate_sets]:
            if not (Path(self.data_root) / name / "wav.scp").is_file():
                raise FileNotFoundError(f"--sets/--nogate_sets {name}: no {Path(self.data_root) / name / 'wav.scp'}")


def calibrate_gate_to_file(
    asr_train_config: Union[str, Path],
    asr_model_file: Union[str, Path],
    speech_dir: Union[str, Path],
    nonspeech_dir: Union[str, Path],
    output: Union[str, Path],
    max_speech_gated: float = 0.0,
    batch_size: int = 16,
    device: str = "cpu",
) -> Dict:
    """What ``calibrate_ctc_gate`` does: load the model, choose the threshold on the two dev sets
    (:func:`espnet_llm_entropy.decoding.gate_calibration.calibrate_gate`), write the result to
    ``output`` atomically and return it."""
    from espnet_llm_entropy.decoding.gate_calibration import calibrate_gate
    from espnet_llm_entropy.fileio.atomic import write_text_atomic
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    s2t = LLMSpeech2Text(asr_train_config, asr_model_file, device=device)
    result = calibrate_gate(s2t, speech_dir, nonspeech_dir, max_speech_gated, batch_size)
    write_text_atomic(output, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


def decode_with_calibrated_gate(job: GatedDecodingJob) -> int:
    """Calibrate, then decode every set of ``job`` in this process; returns the threshold.

    Existing ``<set>`` output folders are replaced, so a rerun never mixes
    two models' hypotheses.
    """
    job.check()
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration = out_dir / "gate_calibration.json"
    result = calibrate_gate_to_file(job.asr_train_config, job.asr_model_file, job.calibration_speech_dir,
                                    job.calibration_nonspeech_dir, calibration, batch_size=job.batch_size)
    threshold = int(result["calibration"]["min_ctc_phones"])
    runs = [(out_dir, name, f"min_ctc_phones={threshold}") for name in job.sets]
    runs += [(nogate_dir(out_dir), name, "ctc_gate=false") for name in job.nogate_sets]
    config = ["--config", str(job.decode_config)] if job.decode_config is not None else []
    for root, name, guard in runs:
        out = root / name
        if out.exists():
            shutil.rmtree(out)
        logging.warning("decoding %s with --decoding_guard_conf %s into %s", name, guard, out)
        espnet_steps.decode(Path(job.asr_train_config).parent, Path(job.asr_model_file), Path(job.data_root) / name,
                            out, job.batch_size, extra=[*config, "--decoding_guard_conf", guard], in_process=True)
    return threshold


def job_arguments(job: GatedDecodingJob) -> Sequence[str]:
    """The command line of ``python -m espnet_llm_entropy.bin.decode_with_gate`` for ``job``."""
    args = ["--asr_train_config", job.asr_train_config, "--asr_model_file", job.asr_model_file,
            "--data_root", job.data_root, "--out_dir", job.out_dir,
            "--calibration_speech_dir", job.calibration_speech_dir,
            "--calibration_nonspeech_dir", job.calibration_nonspeech_dir,
            "--batch_size", job.batch_size, "--sets", *job.sets]
    if job.nogate_sets:
        args += ["--nogate_sets", *job.nogate_sets]
    if job.decode_config is not None:
        args += ["--decode_config", job.decode_config]
    return [str(a) for a in args]
