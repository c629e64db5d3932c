"""Tiny but real components: a locally trained tokenizer + causal LM, a small conformer.

Everything is built from configs on the fly (nothing downloads), small
enough that a forward/backward pass takes milliseconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

TINY_TEXTS = (
    "你好 世界",
    "今天 天气 很好",
    "打开 the light",
    "hello world",
    "open the door please",
    "good morning everyone",
    "我 有 三 个 apple",
    "明天 见 see you tomorrow",
)


def make_tiny_llm_dir(
    out_dir: Path,
    texts: Sequence[str] = TINY_TEXTS,
    arch: str = "qwen2",
    hidden_size: int = 32,
    vocab_size: int = 300,
    seed: int = 0,
) -> Path:
    """A random causal LM of the tests' size with a tokenizer trained on ``texts``
    (:func:`~espnet_llm_entropy.llm.tiny_lm.build_tiny_llm`)."""
    from espnet_llm_entropy.llm.tiny_lm import TinyLMConfig, build_tiny_llm

    conf = TinyLMConfig(
        arch=arch, hidden_size=hidden_size, num_layers=2, num_heads=4,
        num_kv_heads=2, intermediate_size=2 * hidden_size,
    )
    build_tiny_llm(out_dir, list(texts) * 4, conf, vocab_size=vocab_size, seed=seed, min_frequency=1)
    return Path(out_dir)


def tiny_encoder_conf(output_size: int = 32) -> Dict:
    """ESPnet conformer options for a 2-block, 4x-subsampling encoder."""
    return dict(
        output_size=output_size, attention_heads=2, linear_units=2 * output_size,
        num_blocks=2, input_layer="conv2d", cnn_module_kernel=7,
    )


def build_tiny_speech_encoder(output_size: int = 32, specaug: bool = True):
    """A real ESPnet fbank frontend + SpecAugment + utterance MVN + conformer."""
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.asr.specaug.specaug import SpecAug
    from espnet2.layers.utterance_mvn import UtteranceMVN

    from espnet_llm_entropy.models.speech_encoder import SpeechEncoder

    frontend = DefaultFrontend(n_fft=256, hop_length=160, n_mels=20)
    aug = (
        SpecAug(apply_time_warp=False, freq_mask_width_range=(0, 5), num_freq_mask=1,
                time_mask_width_range=(0, 10), num_time_mask=1)
        if specaug else None
    )
    encoder = ConformerEncoder(input_size=20, **tiny_encoder_conf(output_size))
    return SpeechEncoder(frontend, aug, UtteranceMVN(), encoder)


def write_narrow_llm_asr_config(
    base_config: Path, llm_dir: Path, out: Path, token_list: Sequence[str]
) -> Path:
    """An LLM-ASR ``config.yaml`` from a preset, narrowed to a 32-d encoder, for tests
    that build a recognizer without training (``LLMSpeech2Text(config, None)``)."""
    import yaml

    import espnet_llm_entropy
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    espnet_llm_entropy.register()
    args = LLMASRTask.get_parser().parse_args(
        ["--config", str(base_config), "--llm_conf", f"path={llm_dir}"]
    )
    conf = vars(args)
    conf["token_list"] = list(token_list)
    conf["encoder_conf"] = dict(conf["encoder_conf"], output_size=32, attention_heads=2, linear_units=64)
    Path(out).write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    return Path(out)
