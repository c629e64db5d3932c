"""Benchmark: batched KV-cache generation vs batch 1 vs ESPnet's asr_inference HF-decoder path.

Systems, all greedy, on the same utterances and the same encoder/LLM weights:

* ``ours-b<N>``: ``LLMASRModel.generate`` on batches of N left-padded
  utterances (one ``transformers`` generate call per batch, KV cache);
* ``ours-b1``: the same, one utterance at a time;
* ``espnet-hf``: ESPnet's ``Speech2Text.__call__`` with
  ``hugging_face_decoder=True`` (the causal-LM branch: encoder ->
  linear_in -> prefix/postfix embeddings -> ``generate``), which is what
  ``espnet2.bin.asr_inference`` runs; it decodes one utterance per call
  (``asr_inference --batch_size`` > 1 raises NotImplementedError), so "ESPnet
  at batch 8" means 8 utterances through it. The Speech2Text object is
  assembled the way its constructor does for that branch, without writing
  a config file (see :func:`build_espnet_speech2text`).

Every system generates exactly ``--new-tokens`` tokens per utterance
(``min_new_tokens = max_new_tokens``) so that the work is identical even
with untrained weights. Reported: utterances/s, real-time factor (compute
seconds per audio second) and the ratio of utterances/s to ``espnet-hf``.

Run on demand (not part of the tests)::

    python bench/bench_inference.py --quick
    python bench/bench_inference.py --size tiny --utts 32
    python bench/bench_inference.py --size smollm2 --utts 16
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_components import (  # noqa: E402
    SIZES, BatchSpec, build_espnet_baseline, build_ours, llm_dir_for, make_batches, vocab_range,
)
from bench_measure import (  # noqa: E402
    add_device_arguments, format_table, machine_description, setup_device, synchronize,
)

LOG = logging.getLogger("bench_inference")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_device_arguments(parser)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--utts", type=int, default=16, help="utterances decoded per system")
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per utterance")
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--features", action="store_true",
                        help="80-dim feature input instead of waveforms (no fbank frontend)")
    parser.add_argument("--work-dir", default="/tmp/bench_llms")
    return parser


def build_espnet_speech2text(espnet_model, device, dtype, max_new_tokens: int):
    """ESPnet's Speech2Text for the HF causal-LM decoder branch, built from a model object.

    Mirrors what ``Speech2Text.__init__`` does with ``hugging_face_decoder=True``
    for a ``causal_lm`` decoder (a fresh ``AutoModelForCausalLM`` loaded with
    the decoder's weights; the decoder's own copy deleted), then sets the
    attributes that ``__call__`` reads. ``__call__`` itself is ESPnet's code.
    """
    from espnet2.asr.decoder.hugging_face_transformers_decoder import (
        get_hugging_face_model_lm_head, get_hugging_face_model_network,
    )
    from espnet2.text.token_id_converter import TokenIDConverter
    from transformers import AutoModelForCausalLM

    dec = espnet_model.decoder
    hf_model = AutoModelForCausalLM.from_pretrained(dec.model_name_or_path)
    hf_model.resize_token_embeddings(dec.lm_head.out_features)
    get_hugging_face_model_network(hf_model).load_state_dict(dec.decoder.state_dict())
    get_hugging_face_model_lm_head(hf_model).load_state_dict(dec.lm_head.state_dict())
    del dec.lm_head
    del dec.decoder
    try:
        from espnet2.bin.asr_inference import Speech2Text
        s2t = Speech2Text.__new__(Speech2Text)
    except ImportError as e:  # asr_inference imports hydra, librosa ... (absent on the GPU box)
        LOG.warning("espnet2.bin.asr_inference not importable (%s): using EspnetHFPathReplica", e)
        s2t = EspnetHFPathReplica()
    s2t.asr_model = espnet_model.to(device=device, dtype=dtype).eval()
    s2t.asr_train_args = None
    s2t.converter = TokenIDConverter(espnet_model.token_list, unk_symbol=espnet_model.token_list[0])
    s2t.tokenizer = None
    s2t.beam_search = None
    s2t.beam_search_transducer = None
    s2t.hugging_face_model = hf_model.to(device=device, dtype=dtype).eval()
    s2t.hugging_face_linear_in = dec.linear_in
    s2t.hugging_face_decoder_conf = {
        "num_beams": 1, "do_sample": False, "max_new_tokens": max_new_tokens,
        "min_new_tokens": max_new_tokens, "pad_token_id": hf_model.config.eos_token_id,
    }
    s2t.maxlenratio, s2t.minlenratio = 0.0, 0.0
    s2t.device, s2t.dtype = str(device), {torch.float32: "float32", torch.bfloat16: "bfloat16",
                                          torch.float16: "float16"}[dtype]
    s2t.nbest, s2t.enh_s2t_task, s2t.multi_asr = 1, False, False
    return s2t


class EspnetHFPathReplica:
    """The steps of ``Speech2Text.__call__`` for a causal-LM HF decoder, for machines
    where ``espnet2.bin.asr_inference`` cannot be imported (its imports need hydra,
    librosa ...). Calls the same ESPnet functions in the same order: ``encode``,
    ``linear_in``, ``decoder.add_prefix_postfix``, ``generate`` on a batch of 1,
    then strips the first and the last id like ESPnet's post-processing.
    """

    @torch.no_grad()
    def __call__(self, speech):
        speech = speech.unsqueeze(0).to(getattr(torch, self.dtype))
        lengths = speech.new_full([1], dtype=torch.long, fill_value=speech.size(1))
        enc, _ = self.asr_model.encode(speech.to(self.device), lengths.to(self.device))
        enc = self.hugging_face_linear_in(enc[0]).unsqueeze(0)
        one = torch.ones([1, 1], dtype=torch.long, device=enc.device)
        args, _ = self.asr_model.decoder.add_prefix_postfix(
            enc, torch.tensor([enc.shape[1]], device=enc.device), one, one[0])
        input_ids = torch.ones([1, args["inputs_embeds"].shape[1]], dtype=torch.long,
                               device=enc.device)
        yseq = self.hugging_face_model.generate(
            input_ids, inputs_embeds=args["inputs_embeds"], attention_mask=input_ids,
            **self.hugging_face_decoder_conf)
        yseq = yseq[:, input_ids.shape[1] - 1:]
        token_int = [t for t in yseq[0][1:-1].tolist() if t != 0]
        return [(None, self.converter.ids2tokens(token_int), token_int, None)]


def _install_token_logger(s2t) -> None:
    """ESPnet logs the best hypothesis through ``self.tokenizer``; give it a minimal one."""

    class _Join:
        @staticmethod
        def tokens2text(tokens):
            return " ".join(tokens)

    s2t.tokenizer = _Join()


def run(args) -> List[Dict[str, object]]:
    device, dtype = setup_device(args)
    size = SIZES[args.size]
    llm_dir = llm_dir_for(size.llm, Path(args.work_dir), device)
    waveform = not args.features
    ours = build_ours(size, llm_dir, "lora", waveform).to(device=device, dtype=dtype).eval()
    espnet_model = build_espnet_baseline(ours, llm_dir)
    s2t = build_espnet_speech2text(espnet_model, device, dtype, args.new_tokens)
    _install_token_logger(s2t)
    lo, hi = vocab_range(ours)
    spec = BatchSpec(args.utts, args.min_seconds, args.max_seconds, waveform=waveform,
                     n_mels=size.n_mels)
    data = make_batches(spec, 1, lo, hi, seed=1)[0]
    waves = [data["speech"][i, : data["speech_lengths"][i]] for i in range(args.utts)]
    audio_seconds = float(data["speech_lengths"].sum()) / (16000 if waveform else 100)
    gen_kw = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)

    def ours_batched(bs: int) -> int:
        produced = 0
        for start in range(0, len(waves), bs):
            chunk = waves[start: start + bs]
            lengths = torch.tensor([w.size(0) for w in chunk])
            speech = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)
            ids, _ = ours.generate(speech.to(device, dtype), lengths.to(device), **gen_kw)
            produced += sum(len(i) for i in ids)
        return produced

    def espnet_sequential() -> int:
        produced = 0
        for w in waves:
            produced += len(s2t(w.to(dtype))[0][2])
        return produced

    espnet_name = "espnet-hf" if not isinstance(s2t, EspnetHFPathReplica) else "espnet-hf (replica)"
    systems = {f"ours-b{args.batch_size}": lambda: ours_batched(args.batch_size),
               "ours-b1": lambda: ours_batched(1), espnet_name: espnet_sequential}
    with torch.no_grad():  # warm-up on two utterances
        ours.generate(waves[0][None].to(device, dtype), torch.tensor([waves[0].size(0)], device=device),
                      **gen_kw)
        s2t(waves[1].to(dtype))
    rows = []
    for name, fn in systems.items():
        synchronize(device)
        start = time.perf_counter()
        with torch.no_grad():
            tokens = fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        rows.append({"system": name, "utts": len(waves), "tokens out": tokens,
                     "seconds": elapsed, "utt/s": len(waves) / elapsed,
                     "RTF": elapsed / audio_seconds, "tok/s": tokens / elapsed})
    base = rows[-1]["utt/s"]
    for r in rows:
        r["x vs espnet-hf"] = r["utt/s"] / base
    return rows


def main(cmd=None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.utts, args.new_tokens = min(args.utts, 8), min(args.new_tokens, 8)
    rows = run(args)
    print(f"\n## inference, size={args.size}, {args.utts} utterances of "
          f"{args.min_seconds}-{args.max_seconds} s, {args.new_tokens} new tokens each, "
          f"greedy, dtype={args.dtype}")
    print(f"machine: {machine_description(torch.device(args.device))}\n")
    print(format_table(rows, ["system", "utts", "tokens out", "seconds", "utt/s", "RTF",
                              "tok/s", "x vs espnet-hf"]))


if __name__ == "__main__":
    main()
