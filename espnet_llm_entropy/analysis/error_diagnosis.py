"""Where does the recognition error come from? Three numbers on the test set.

(a) the speech side alone: greedy CTC phone error rate of the pretrained
    encoder (:mod:`phone_error_rate`);
(b) the LLM side alone: the adaptor + LLM trained on a perfect encoder's
    one-hot phone frames (:mod:`oracle_llm_side`), and the LLM's text-only
    perplexity on the test transcripts (its language prior);
(c) the full model: its test error rates (decoded by the caller, passed in).

:func:`diagnose_errors` writes ``diagnosis.json`` and returns it.
"""

from __future__ import annotations

import json
import logging
import time
from argparse import Namespace
from pathlib import Path
from typing import Dict, List, Optional, Union

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
        items.append(OracleItem(uid, frames, [int(i) for i in data["llm_tokens"]]))
    if not items:
        raise ValueError(f"{data_dir / 'text'}: no transcribed utterances")
    return items


def load_training_args(exp_dir: Path) -> Namespace:
    """The training namespace of an ESPnet experiment (its ``config.yaml``)."""
    import yaml

    path = Path(exp_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{exp_dir}: no config.yaml (not an ESPnet experiment dir)")
    with open(path, encoding="utf-8") as f:
        return Namespace(**yaml.safe_load(f))


def oracle_error_rates(
    sft_exp: Union[Path, Namespace], train_dir: Path, test_dir: Path, out_dir: Path, steps: int,
    batch_size: int = 16, lr: float = 3e-3, seed: int = 0, llm_conf: Optional[Dict] = None,
) -> Dict:
    """(b): train the oracle LLM side for ``steps`` updates, decode ``test_dir``, score it.

    ``sft_exp`` is the experiment dir or its already loaded training namespace.
    ``llm_conf`` entries override the experiment's (e.g. ``{"train_mode": "lora"}``
    to measure what LoRA alone can learn).
    """
    import torch

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
    hyps = decode_oracle(model, test_items)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hyp_file = out_dir / "oracle_hyp.txt"
    write_text_atomic(hyp_file, "".join(f"{u} {hyps[u]}\n" for u in sorted(hyps)))
    # utterances with an empty transcript have no oracle item: they count as empty output
    scores = score_by_language(Path(test_dir) / "text", hyp_file, Path(test_dir) / "utt2lang",
                               allow_missing=True)
    return {
        "steps": steps, "batch_size": batch_size, "lr": lr, "train_utts": len(train_items),
        "llm_train_mode": args.llm_conf.get("train_mode", "lora"),
        "loss_last": sum(losses[-20:]) / len(losses[-20:]), "elapsed_s": round(time.time() - start, 1),
        "scores": scores, "hyp_file": str(hyp_file),
    }


def diagnose_errors(
    pretrain_exp: Path, sft_exp: Path, train_dir: Path, test_dir: Path, out_dir: Path,
    full_model_scores: Optional[Dict] = None, oracle_steps: int = 1000, seed: int = 0,
    oracle_llm_conf: Optional[Dict] = None,
) -> Dict:
    """The three numbers (a), (b), (c); written to ``out_dir/diagnosis.json``.

    Args:
        pretrain_exp: phoneme-CTC pretraining experiment (speech side).
        sft_exp: an LLM-ASR experiment whose LLM, LoRA and prompts the oracle reuses.
        train_dir, test_dir: Kaldi data dirs.
        out_dir: where ``diagnosis.json`` and the oracle's hypotheses go.
        full_model_scores: :func:`score_by_language` of the full model on ``test_dir``.
        oracle_steps: updates of the oracle's adaptor + LLM training.
        oracle_llm_conf: overrides of the experiment's ``llm_conf`` for the oracle.
    """
    from espnet_llm_entropy.llm.template_lm import read_kaldi_transcripts
    from espnet_llm_entropy.llm.tiny_lm import text_perplexity
    from espnet_llm_entropy.fileio.atomic import write_text_atomic

    out_dir = Path(out_dir)
    logging.info("diagnosis (a): phone error rate of %s on %s", pretrain_exp, test_dir)
    per = phone_error_rate(pretrain_exp, test_dir).to_dict()
    sft_args = load_training_args(sft_exp)
    llm_dir = sft_args.llm_conf["path"]
    logging.info("diagnosis (b): text-only perplexity of %s and the oracle LLM side", llm_dir)
    perplexity = text_perplexity(llm_dir, read_kaldi_transcripts(Path(test_dir) / "text"))
    oracle = oracle_error_rates(sft_args, train_dir, test_dir, out_dir, oracle_steps, seed=seed,
                                llm_conf=oracle_llm_conf)
    result = {
        "test_dir": str(test_dir),
        "a_encoder_phone_error_rate": per,
        "b_llm_text_perplexity": perplexity,
        "b_oracle_encoder": oracle,
        "c_full_model": full_model_scores,
    }
    write_text_atomic(out_dir / "diagnosis.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result
