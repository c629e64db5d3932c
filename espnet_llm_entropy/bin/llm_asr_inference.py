"""Decode a data dir with an LLM-ASR model; asr.sh stage-12 compatible.

Takes the arguments ``asr.sh`` passes to ``espnet2.bin.asr_inference``
(``--data_path_and_name_and_type``, ``--key_file``, ``--asr_train_config``,
``--asr_model_file``, ``--output_dir``, ``--batch_size``, ``--ngpu``,
``--config decode.yaml`` ...), or a packed model as ``--model_tag`` (a pack
file of asr.sh stage 14 or its unpacked folder, like ESPnet's
``asr_inference``; ``--llm_dir`` when the pack does not hold its base LLM),
and writes the same layout:
``<output_dir>/1best_recog/{text,token,token_int,score}`` (and ``ctc_phones``,
the CTC-evidence gate's phone count, for models with a phone-CTC head), so that stage 13
scoring works unchanged. Options that only make sense for ESPnet's
attention decoders (external LMs, CTC weight) are accepted and must be left
at their defaults.

Inputs that are not what the model was trained on:

* each utterance's sampling rate is read from its file's header (``sound``
  entries) and the audio is resampled to the model's rate; several channels
  are down-mixed to mono (each with a warning naming the utterance; see
  :mod:`espnet_llm_entropy.decoding.input_audio`). Entries of other types
  (``kaldi_ark``, ...) are taken to be at the model's rate: their rate is
  not checked. Non-finite samples stop the job with the utterance named;
* empty audio and audio too short for the encoder's subsampling give an
  empty hypothesis and a warning, as ESPnet's ``asr_inference`` does for
  ``TooShortUttError``; any other failure stops the job naming the
  utterance;
* a key file listing ids that the audio list lacks stops the job before
  the model is loaded, naming the first ids and their count.

``1best_recog`` appears only when the whole shard is decoded: results go to
a temporary folder in ``--output_dir`` that is renamed at the end, so a
failed job leaves nothing a scoring step could take for a result.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.utils import config_argparse
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2triple_str, str_or_none

logger = logging.getLogger("llm_asr_inference")

UNSUPPORTED_WHEN_SET = ("lm_train_config", "lm_file", "word_lm_train_config", "word_lm_file", "ngram_file")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        description="LLM-ASR decoding (asr.sh stage 12 compatible)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--log_level", default="INFO", choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"))
    add("--output_dir", type=str, required=True)
    add("--ngpu", type=int, default=0, help="0: CPU, 1: the first GPU")
    add("--seed", type=int, default=0)
    add("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    add("--num_workers", type=int, default=1)
    add("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append")
    add("--key_file", type=str_or_none)
    add("--allow_variable_data_keys", type=str, default="false")
    add("--asr_train_config", type=str_or_none, default=None, help="the training config (or --model_tag)")
    add("--asr_model_file", type=str_or_none, default=None, help="the checkpoint (or --model_tag)")
    add("--model_tag", type=str_or_none, default=None,
        help="a packed model (asr.sh stage 14 / llm_asr_pack: .zip/.tar* file or its unpacked folder); "
        "overrides --asr_train_config and --asr_model_file. Nothing is downloaded")
    add("--llm_dir", type=str_or_none, default=None,
        help="with --model_tag: the base LLM when the pack does not hold it (checked against its fingerprint)")
    for name in UNSUPPORTED_WHEN_SET:
        add(f"--{name}", type=str_or_none, default=None, help="not supported (must stay unset)")
    add("--batch_size", type=int, default=1)
    add("--nbest", type=int, default=1, help="only 1 is supported")
    add("--beam_size", type=int, default=1, help="1 = greedy search")
    add("--maxlenratio", type=float, default=0.0, help="ignored; see --decoding_guard_conf")
    add("--minlenratio", type=float, default=0.0, help="ignored")
    add("--penalty", type=float, default=0.0, help="ignored")
    add("--ctc_weight", type=float, default=0.0,
        help="joint decoding: the beam's N-best rescored by (1 - w) log P_LLM + w log P_CTC(phones) "
        "with the model's phone-CTC head (needs --beam_size > 1 and a trained head); 0: the LLM alone")
    add("--lm_weight", type=float, default=0.0, help="ignored")
    add("--ngram_weight", type=float, default=0.0, help="ignored")
    add("--decoding_guard_conf", action=NestedDictAction, default=dict(),
        help="hallucination guards (espnet_llm_entropy.decoding.DecodingGuardConfig): "
        "tokens_per_second, min_tokens, length_slack, max_tokens, stop_on_loop, loop_*, "
        "trim_loop, no_repeat_ngram_size, repetition_penalty")
    add("--token_type", type=str_or_none, default=None, help="ignored (the LLM tokenizer is used)")
    add("--bpemodel", type=str_or_none, default=None, help="ignored")
    return parser


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that LLM-ASR decoding cannot honour."""
    for name in UNSUPPORTED_WHEN_SET:
        if getattr(args, name):
            raise ValueError(f"--{name} is not supported by LLM-ASR decoding (the LLM is the LM)")
    if args.nbest != 1:
        raise ValueError(f"--nbest {args.nbest}: only 1-best output is supported")
    if args.ngpu > 1:
        raise ValueError("--ngpu > 1 is not supported for decoding; split the data (asr.sh does)")


def speech_entry(args: argparse.Namespace) -> Tuple[str, str]:
    """(file, type) of the ``speech`` entry of ``--data_path_and_name_and_type``."""
    found = [(path, kind) for path, name, kind in args.data_path_and_name_and_type if name == "speech"]
    if len(found) != 1:
        raise ValueError(
            "--data_path_and_name_and_type: expected exactly one entry named 'speech' "
            f"(e.g. dump/raw/test/wav.scp,speech,sound), got {len(found)}"
        )
    return found[0]


def utterances_to_decode(scp: str, key_file: Optional[str]) -> List[str]:
    """The ids to decode, in the order of ``scp`` (ESPnet's streaming reader needs that order).

    Raises:
        ValueError: the key file lists ids that ``scp`` lacks (names the
            first few and the count) or repeats one.
    """
    from espnet_llm_entropy.decoding.input_audio import read_audio_list

    entries = read_audio_list(scp)
    if key_file is None:
        return list(entries)
    keys = list(read_audio_list_ids(key_file))
    missing = [uid for uid in keys if uid not in entries]
    if missing:
        raise ValueError(
            f"key file {key_file} lists {len(missing)} utterance id(s) that {scp} does not "
            f"have: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    return sorted(keys, key=lambda uid: entries[uid][0])


def read_audio_list_ids(key_file: str) -> Dict[str, int]:
    """First column of a key file (``key.N.scp``: usually ``<utt-id> <path>``) -> line number.

    Raises:
        KaldiFileError (a ValueError): bytes that are not UTF-8 or a repeated id (names file and line).
    """
    from espnet_llm_entropy.fileio.kaldi_map import iter_kaldi_map

    lines = iter_kaldi_map(key_file, "key", "utterance id", "audio path", allow_empty_value=True, blank_lines="skip")
    return {line.key: line.line_number for line in lines}


def _collate_waves(items):
    """DataLoader collate: keep each utterance's samples as they are (no padding)."""
    return [uid for uid, _ in items], [data["speech"] for _, data in items]


def decode_one(s2t, uid: str, wave: np.ndarray):
    """One utterance; empty audio gives an empty result (too-short audio too: the
    recognizer returns one, ESPnet's asr_inference policy for ``TooShortUttError``)."""
    from espnet_llm_entropy.speech2text import empty_hypothesis

    if wave.size == 0:
        logger.warning("utterance %s: empty audio (0 samples); writing an empty hypothesis", uid)
        return empty_hypothesis("too_short")
    try:
        return s2t.batch([wave], keys=[uid])[0]
    except Exception as exc:
        seconds = wave.size / s2t.sample_rate
        raise RuntimeError(f"decoding utterance {uid} ({seconds:.3f} s of audio) failed: {exc}") from exc


def decode_batch(s2t, keys: Sequence[str], waves: Sequence[np.ndarray]) -> list:
    """Hypotheses of a batch; if the batch fails, each utterance alone (so the error names it)."""
    if len(keys) > 1 and all(w.size for w in waves):
        try:
            return s2t.batch(list(waves), keys=list(keys))
        except Exception as exc:  # find the utterance (too short or broken) one by one
            logger.debug("batch %s failed (%s); decoding its utterances one by one", list(keys), exc)
    return [decode_one(s2t, uid, wave) for uid, wave in zip(keys, waves)]


def load_recognizer(args: argparse.Namespace, device: str):
    """The recognizer of ``--model_tag`` (a pack) or of ``--asr_train_config`` + ``--asr_model_file``."""
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    kwargs = dict(device=device, beam_size=args.beam_size, ctc_weight=args.ctc_weight,
                  decoding_guard_conf=args.decoding_guard_conf)
    if args.model_tag:
        if args.asr_train_config or args.asr_model_file:
            logger.warning("--model_tag %s overrides --asr_train_config/--asr_model_file", args.model_tag)
        return LLMSpeech2Text.from_pretrained(args.model_tag, llm_dir=args.llm_dir, **kwargs)
    if not (args.asr_train_config and args.asr_model_file):
        raise ValueError("give --asr_train_config and --asr_model_file, or --model_tag <pack file or folder>")
    if args.llm_dir:
        raise ValueError("--llm_dir is for --model_tag (a pack); the training config names its LLM")
    return LLMSpeech2Text(args.asr_train_config, args.asr_model_file, **kwargs)


def inference(args: argparse.Namespace) -> None:
    """Decode every utterance of the data and write ``<output_dir>/1best_recog``.

    The files are written into a temporary folder next to ``1best_recog``
    and moved there only when every utterance is decoded. A previous
    ``1best_recog`` is removed first, so a job that fails leaves none.
    """
    from espnet2.fileio.datadir_writer import DatadirWriter
    from tqdm import tqdm

    from espnet_llm_entropy.decoding.input_audio import prepare_waveform, sound_file_rates
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    out_dir = Path(args.output_dir)
    final = out_dir / "1best_recog"
    if final.exists():
        logger.info("removing the previous result %s", final)
        shutil.rmtree(final)
    check_options(args)
    scp, kind = speech_entry(args)
    keys = utterances_to_decode(scp, args.key_file)
    rates = sound_file_rates(scp, keys) if kind == "sound" else {}
    if kind != "sound":
        logger.info("%s: '%s' entries carry no readable rate; taken to be the model's", scp, kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = "cuda" if args.ngpu > 0 else "cpu"
    torch.manual_seed(args.seed)
    s2t = load_recognizer(args, device)
    work = Path(tempfile.mkdtemp(prefix=".1best_recog.", dir=out_dir))
    try:
        key_list = work / "keys"
        key_list.write_text("".join(f"{uid}\n" for uid in keys), encoding="utf-8")
        loader = LLMASRTask.build_streaming_iterator(
            args.data_path_and_name_and_type, dtype=args.dtype, batch_size=args.batch_size,
            key_file=str(key_list), num_workers=args.num_workers, preprocess_fn=None,
            collate_fn=_collate_waves, allow_variable_data_keys=True, inference=True,
        )
        with DatadirWriter(work / "1best_recog") as best:
            for batch_keys, waves in tqdm(loader, desc="decoding", unit="batch", file=sys.stderr):
                waves = [
                    prepare_waveform(w, rates.get(uid) or s2t.sample_rate, s2t.sample_rate, uid)
                    for uid, w in zip(batch_keys, waves)
                ]
                for uid, hyp in zip(batch_keys, decode_batch(s2t, batch_keys, waves)):
                    best["token"][uid] = " ".join(map(str, hyp.tokens))
                    best["token_int"][uid] = " ".join(map(str, hyp.token_ids))
                    best["score"][uid] = str(hyp.score)
                    best["text"][uid] = hyp.text
                    if hyp.ctc_phones is not None:  # the gate's speech evidence
                        best["ctc_phones"][uid] = str(hyp.ctc_phones)
        os.replace(work / "1best_recog", final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    try:
        inference(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        logger.error("%s", exc)
        raise SystemExit(f"llm_asr_inference: error: {exc}") from exc


if __name__ == "__main__":
    main()
