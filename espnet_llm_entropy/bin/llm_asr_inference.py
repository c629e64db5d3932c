"""Decode a data dir with an LLM-ASR model; asr.sh stage-12 compatible.

Takes the arguments ``asr.sh`` passes to ``espnet2.bin.asr_inference``
(``--data_path_and_name_and_type``, ``--key_file``, ``--asr_train_config``,
``--asr_model_file``, ``--output_dir``, ``--batch_size``, ``--ngpu``,
``--config decode.yaml`` ...) and writes the same layout:
``<output_dir>/1best_recog/{text,token,token_int,score}``, so that stage 13
scoring works unchanged. Options that only make sense for ESPnet's
attention decoders (external LMs, CTC weight) are accepted and must be left
at their defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

import torch
from espnet2.utils import config_argparse
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2triple_str, str_or_none

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
    add("--asr_train_config", type=str, required=True)
    add("--asr_model_file", type=str, required=True)
    for name in UNSUPPORTED_WHEN_SET:
        add(f"--{name}", type=str_or_none, default=None, help="not supported (must stay unset)")
    add("--batch_size", type=int, default=1)
    add("--nbest", type=int, default=1, help="only 1 is supported")
    add("--beam_size", type=int, default=1, help="1 = greedy search")
    add("--maxlenratio", type=float, default=0.0, help="ignored; see --decoding_guard_conf")
    add("--minlenratio", type=float, default=0.0, help="ignored")
    add("--penalty", type=float, default=0.0, help="ignored")
    add("--ctc_weight", type=float, default=0.0, help="must be 0 (no CTC rescoring)")
    add("--lm_weight", type=float, default=0.0, help="ignored")
    add("--ngram_weight", type=float, default=0.0, help="ignored")
    add("--decoding_guard_conf", action=NestedDictAction, default=dict(),
        help="hallucination guards (espnet_llm_entropy.decoding.DecodingGuardConfig): "
        "tokens_per_second, min_tokens, length_slack, max_tokens, stop_on_loop, loop_*, "
        "trim_loop, no_repeat_ngram_size, repetition_penalty")
    add("--token_type", type=str_or_none, default=None, help="ignored (the LLM tokenizer is used)")
    add("--bpemodel", type=str_or_none, default=None, help="ignored")
    return parser


def inference(args: argparse.Namespace) -> None:
    """Decode every utterance of the data and write ``1best_recog``."""
    from espnet2.fileio.datadir_writer import DatadirWriter
    from tqdm import tqdm

    from espnet_llm_entropy.speech2text import LLMSpeech2Text
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    for name in UNSUPPORTED_WHEN_SET:
        if getattr(args, name):
            raise ValueError(f"--{name} is not supported by LLM-ASR decoding (the LLM is the LM)")
    if args.nbest != 1:
        raise ValueError(f"--nbest {args.nbest}: only 1-best output is supported")
    if args.ctc_weight:
        raise ValueError("--ctc_weight must be 0: LLM-ASR decoding does no CTC rescoring")
    if args.ngpu > 1:
        raise ValueError("--ngpu > 1 is not supported for decoding; split the data (asr.sh does)")
    device = "cuda" if args.ngpu > 0 else "cpu"
    torch.manual_seed(args.seed)
    s2t = LLMSpeech2Text(
        args.asr_train_config, args.asr_model_file, device=device, beam_size=args.beam_size,
        decoding_guard_conf=args.decoding_guard_conf,
    )
    loader = LLMASRTask.build_streaming_iterator(
        args.data_path_and_name_and_type,
        dtype=args.dtype,
        batch_size=args.batch_size,
        key_file=args.key_file,
        num_workers=args.num_workers,
        preprocess_fn=None,
        collate_fn=LLMASRTask.build_collate_fn(s2t.args, False),
        allow_variable_data_keys=True,
        inference=True,
    )
    with DatadirWriter(args.output_dir) as writer:
        best = writer["1best_recog"]
        for keys, batch in tqdm(loader, desc="decoding", unit="batch", file=sys.stderr):
            lengths = batch["speech_lengths"]
            waves = [batch["speech"][i, : lengths[i]] for i in range(len(keys))]
            for key, hyp in zip(keys, s2t.batch(waves)):
                best["token"][key] = " ".join(hyp.tokens)
                best["token_int"][key] = " ".join(map(str, hyp.token_ids))
                best["score"][key] = str(hyp.score)
                best["text"][key] = hyp.text


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    inference(args)


if __name__ == "__main__":
    main()
