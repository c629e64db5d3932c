"""Where does the recognition error come from? Three numbers on the test set.

(a) the speech side alone: greedy CTC phone error rate of the pretrained
    encoder (:mod:`phone_error_rate`);
(b) the LLM side alone: the adaptor + LLM trained on a perfect encoder's
    one-hot phone frames (:mod:`oracle_llm_side`), and the LLM's text-only
    perplexity on the test transcripts (its language prior);
(c) the full model: its test error rates (decoded by the caller, passed in).

:func:`diagnose_errors` writes ``diagnosis.json`` and returns it. Its two
sides can also run apart, each as soon as its inputs exist (the demo runs
the LLM side once the LLM is built, the speech side once pretraining has
finished): :func:`diagnose_part` writes ``<part>_side.json``
(:data:`PARTS`), :func:`merge_parts` joins them into ``diagnosis.json``.
"""

from __future__ import annotations

import json
import logging
import time
from argparse import Namespace
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from espnet_llm_entropy.analysis.oracle_llm_side import (
    OracleItem,
    build_oracle_model,
    decode_oracle,
    train_oracle,
    uniform_phone_frames,
)
from espnet_llm_entropy.analysis.phone_error_rate import phone_error_rate

#: encoder frame rate of the 4x-subsampled 100 Hz fbank (frames per second)
ENCODER_FRAME_RATE = 25.0
#: The sides of the diagnosis that can run apart: (a) the speech side, (b) the LLM side.
PARTS = ("encoder", "llm")
DIAGNOSIS_FILE = "diagnosis.json"


def oracle_items(args, data_dir: Path, frame_rate: float = ENCODER_FRAME_RATE) -> List[OracleItem]:
    """Oracle frames and LLM tokens of every transcribed utterance of ``data_dir``.

    Durations come from ``utt2dur`` (or the audio headers); phones and LLM
    tokens from the experiment's own inference-mode preprocessor.
    """
    from espnet_llm_entropy.evaluation.kaldi_files import durations_from_wav_scp, read_utt2dur
    from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    data_dir = Path(data_dir)
    texts = read_kaldi_text(data_dir / "text")
    durations = (read_utt2dur(data_dir / "utt2dur") if (data_dir / "utt2dur").is_file()
                 else durations_from_wav_scp(data_dir / "wav.scp"))
    args.use_preprocessor = True
    preprocess = LLMASRTask.build_preprocess_fn(args, train=False)
    items = []
    for uid in sorted(texts):
        if not texts[uid].strip():
            continue
        if uid not in durations:
            raise ValueError(f"{data_dir}: no duration for utterance {uid!r} (utt2dur / wav.scp)")
        data = preprocess(uid, {"text": texts[uid]})
        phones = [int(i) for i in data["text"]]
        frames = uniform_phone_frames(phones, round(durations[uid] * frame_rate))
        items.append(OracleItem(uid, frames, [int(i) for i in data["llm_tokens"]], float(durations[uid]),
                                len(phones)))
    if not items:
        raise ValueError(f"{data_dir / 'text'}: no transcribed utterances")
    return items


def decoding_guard_conf_of(decode_config: Path) -> Dict:
    """The ``decoding_guard_conf`` mapping of a decoding config (``llm_asr_inference --config``).

    Raises:
        FileNotFoundError / ValueError: naming the file, when it is missing, not a YAML mapping, or
            its guard options are not a mapping or not valid.
    """
    import yaml

    from espnet_llm_entropy.decoding.guard_config import DecodingGuardConfig

    path = Path(decode_config)
    if not path.is_file():
        raise FileNotFoundError(f"--decode_config {path}: no such file")
    conf = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    guard = conf.get("decoding_guard_conf", {}) if isinstance(conf, dict) else None
    if not isinstance(guard, dict):
        raise ValueError(f"--decode_config {path}: expected a YAML mapping with a decoding_guard_conf mapping")
    try:
        DecodingGuardConfig.from_dict(guard)
    except ValueError as exc:
        raise ValueError(f"--decode_config {path}: {exc}") from None
    return guard


def load_training_args(exp_dir: Path) -> Namespace:
    """The training namespace of an ESPnet experiment (its ``config.yaml``)."""
    import yaml

    path = Path(exp_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{exp_dir}: no config.yaml (not an ESPnet experiment dir)")
    with open(path, encoding="utf-8") as f:
        return Namespace(**yaml.safe_load(f))


def parse_training_args(argv: Sequence[str]) -> Namespace:
    """The training namespace ``llm_asr_train argv`` would train with (its ``--config`` YAML under the
    command-line options), before the experiment exists; the token list is read into a list, as in the
    experiment's ``config.yaml``.

    Raises:
        FileNotFoundError: the token list named by ``--token_list`` is missing.
    """
    import espnet_llm_entropy
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    espnet_llm_entropy.register()
    args = LLMASRTask.get_parser().parse_args(list(argv))
    if isinstance(args.token_list, (str, Path)):
        path = Path(args.token_list)
        if not path.is_file():
            raise FileNotFoundError(f"--token_list {path}: no such file (the phone inventory)")
        args.token_list = [line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
    return args


def oracle_error_rates(
    sft_exp: Union[Path, Namespace], train_dir: Path, test_dir: Path, out_dir: Path, steps: int,
    batch_size: int = 16, lr: float = 3e-3, seed: int = 0, llm_conf: Optional[Dict] = None,
    guard_conf: Optional[Dict] = None,
) -> Dict:
    """(b): train the oracle LLM side for ``steps`` updates, decode ``test_dir``, score it.

    ``sft_exp`` is the experiment dir or its already loaded training namespace.
    ``llm_conf`` entries override the experiment's (e.g. ``{"train_mode": "lora"}``
    to measure what LoRA alone can learn). ``guard_conf``: the full model's
    ``decoding_guard_conf`` (None: the decoder's defaults), applied to the oracle's greedy output.
    """
    import torch

    from espnet_llm_entropy.decoding.guard_config import DecodingGuardConfig
    from espnet_llm_entropy.evaluation.asr_scoring import score_by_language
    from espnet_llm_entropy.fileio.atomic import write_text_atomic

    args = sft_exp if isinstance(sft_exp, Namespace) else load_training_args(sft_exp)
    args = Namespace(**{**vars(args), "llm_conf": {**args.llm_conf, **(llm_conf or {})}})
    num_phones = len(args.token_list)
    torch.manual_seed(seed)
    model = build_oracle_model(args, num_phones)
    train_items = oracle_items(args, train_dir)
    test_items = oracle_items(args, test_dir)
    start = time.time()
    losses = train_oracle(model, train_items, steps, batch_size, lr, seed=seed)
    guard = DecodingGuardConfig.from_dict(guard_conf)
    hyps = decode_oracle(model, test_items, guard=guard)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hyp_file = out_dir / "oracle_hyp.txt"
    write_text_atomic(hyp_file, "".join(f"{u} {hyps[u]}\n" for u in sorted(hyps)))
    # utterances with an empty transcript have no oracle item: they count as empty output
    scores = score_by_language(Path(test_dir) / "text", hyp_file, Path(test_dir) / "utt2lang",
                               allow_missing=True)
    return {
        "steps": steps, "batch_size": batch_size, "lr": lr, "train_utts": len(train_items),
        "decoding": "greedy", "decoding_guard_conf": asdict(guard),
        "llm_train_mode": args.llm_conf.get("train_mode", "lora"),
        "loss_last": sum(losses[-20:]) / len(losses[-20:]), "elapsed_s": round(time.time() - start, 1),
        "scores": scores, "hyp_file": str(hyp_file),
    }


def encoder_side(pretrain_exp: Path, test_dir: Path) -> Dict:
    """(a): the greedy CTC phone error rate of ``pretrain_exp`` on ``test_dir``."""
    logging.info("diagnosis (a): phone error rate of %s on %s", pretrain_exp, test_dir)
    return {"a_encoder_phone_error_rate": phone_error_rate(pretrain_exp, test_dir).to_dict()}


def llm_side(sft_args: Namespace, train_dir: Path, test_dir: Path, out_dir: Path, oracle_steps: int,
             seed: int = 0, oracle_llm_conf: Optional[Dict] = None, guard_conf: Optional[Dict] = None) -> Dict:
    """(b): the LLM's text-only perplexity on the test transcripts, and the oracle LLM side
    (decoded with the decoding guards ``guard_conf``, None: the decoder's defaults)."""
    from espnet_llm_entropy.llm.template_lm import read_kaldi_transcripts
    from espnet_llm_entropy.llm.tiny_lm import text_perplexity

    llm_dir = sft_args.llm_conf["path"]
    logging.info("diagnosis (b): text-only perplexity of %s and the oracle LLM side", llm_dir)
    return {
        "b_llm_text_perplexity": text_perplexity(llm_dir, read_kaldi_transcripts(Path(test_dir) / "text")),
        "b_oracle_encoder": oracle_error_rates(sft_args, train_dir, test_dir, out_dir, oracle_steps, seed=seed,
                                               llm_conf=oracle_llm_conf, guard_conf=guard_conf),
    }


def _write_json(path: Path, data: Dict) -> None:
    from espnet_llm_entropy.fileio.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def diagnose_part(part: str, out_dir: Path, test_dir: Path, pretrain_exp: Optional[Path] = None,
                  sft_args: Optional[Namespace] = None, train_dir: Optional[Path] = None,
                  oracle_steps: int = 1000, seed: int = 0, oracle_llm_conf: Optional[Dict] = None,
                  guard_conf: Optional[Dict] = None) -> Dict:
    """One side of the diagnosis (``part`` in :data:`PARTS`) into ``out_dir/<part>_side.json``.

    ``encoder`` needs ``pretrain_exp``; ``llm`` needs ``sft_args`` and ``train_dir`` (and takes
    the full model's ``decoding_guard_conf`` as ``guard_conf``).
    """
    if part not in PARTS:
        raise ValueError(f"part: expected one of {PARTS}, got {part!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if part == "encoder":
        result = encoder_side(pretrain_exp, test_dir)
    else:
        result = llm_side(sft_args, train_dir, test_dir, out_dir, oracle_steps, seed, oracle_llm_conf, guard_conf)
    _write_json(out_dir / f"{part}_side.json", result)
    return result


def merge_parts(out_dir: Path, test_dir: Path, full_model_scores: Optional[Dict] = None,
                coverage: Optional[Dict] = None) -> Dict:
    """``out_dir/diagnosis.json`` from the ``<part>_side.json`` files of :func:`diagnose_part` and (c)
    (``coverage``: (c)'s errors split by training coverage, :func:`full_model_coverage`).

    Raises:
        FileNotFoundError: a side has not been written.
    """
    out_dir = Path(out_dir)
    result: Dict = {"test_dir": str(test_dir)}
    for part in PARTS:
        path = out_dir / f"{part}_side.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the {part} side of the diagnosis has not run")
        result.update(json.loads(path.read_text(encoding="utf-8")))
    result["c_full_model"] = full_model_scores
    if coverage is not None:
        result["c_by_template_coverage"] = coverage
    _write_json(out_dir / DIAGNOSIS_FILE, result)
    return result


def full_model_coverage(test_dir: Path, hyp_file: Path, train_dir: Path) -> Dict:
    """(c) split by how many training transcripts share each test sentence's template
    (:func:`~espnet_llm_entropy.analysis.template_coverage.errors_by_template_coverage`)."""
    from espnet_llm_entropy.analysis.template_coverage import errors_by_template_coverage
    from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text

    return errors_by_template_coverage(read_kaldi_text(Path(test_dir) / "text"), read_kaldi_text(hyp_file),
                                       read_kaldi_text(Path(train_dir) / "text").values())


def diagnose_errors(
    pretrain_exp: Path, sft_exp: Union[Path, Namespace], train_dir: Path, test_dir: Path, out_dir: Path,
    full_model_scores: Optional[Dict] = None, oracle_steps: int = 1000, seed: int = 0,
    oracle_llm_conf: Optional[Dict] = None, guard_conf: Optional[Dict] = None,
) -> Dict:
    """The three numbers (a), (b), (c); written to ``out_dir/diagnosis.json``.

    Args:
        pretrain_exp: phoneme-CTC pretraining experiment (speech side).
        sft_exp: an LLM-ASR experiment (or its training namespace, :func:`parse_training_args`)
            whose LLM, LoRA and prompts the oracle reuses.
        train_dir, test_dir: Kaldi data dirs.
        out_dir: where ``diagnosis.json`` and the oracle's hypotheses go.
        full_model_scores: :func:`score_by_language` of the full model on ``test_dir``.
        oracle_steps: updates of the oracle's adaptor + LLM training.
        oracle_llm_conf: overrides of the experiment's ``llm_conf`` for the oracle.
        guard_conf: the full model's ``decoding_guard_conf`` for the oracle's output (None: defaults).
    """
    sft_args = sft_exp if isinstance(sft_exp, Namespace) else load_training_args(sft_exp)
    diagnose_part("encoder", out_dir, test_dir, pretrain_exp=pretrain_exp)
    diagnose_part("llm", out_dir, test_dir, sft_args=sft_args, train_dir=train_dir, oracle_steps=oracle_steps,
                  seed=seed, oracle_llm_conf=oracle_llm_conf, guard_conf=guard_conf)
    return merge_parts(out_dir, test_dir, full_model_scores)
