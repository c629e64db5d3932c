"""Programmatic recognition with a trained LLM-ASR model (like ESPnet's Speech2Text)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch



@dataclass
class Hypothesis:
    """One recognition result.

    Attributes:
        text: the decoded transcript.
        tokens: the LLM tokens as strings.
        token_ids: the LLM token ids.
        score: log-probability (nats) of the tokens and EOS.
    """

    text: str
    tokens: List[str]
    token_ids: List[int]
    score: float


def sample_rate_of(train_args) -> int:
    """The frontend's sampling rate in Hz; asr.sh writes it as e.g. ``16k``."""
    from humanfriendly import parse_size

    fs = (train_args.frontend_conf or {}).get("fs", 16000)
    return int(parse_size(fs) if isinstance(fs, str) else fs)


class LLMSpeech2Text:
    """Load an LLM-ASR experiment and transcribe waveforms.

    Args:
        asr_train_config: the experiment's ``config.yaml``.
        asr_model_file: a checkpoint (``valid.acc.best.pth`` ...).
        device: "cpu" or "cuda".
        beam_size: 1 = greedy search.
        decoding_guard_conf: options of
            :class:`espnet_llm_entropy.decoding.DecodingGuardConfig`: output
            budget per second of audio, repetition-loop stop and trimming,
            no-repeat n-gram, repetition penalty.

    Example:
        >>> s2t = LLMSpeech2Text("exp/sft/config.yaml", "exp/sft/valid.acc.best.pth")
        >>> s2t(waveform_16k)[0].text
    """

    def __init__(
        self,
        asr_train_config: Union[str, Path],
        asr_model_file: Optional[Union[str, Path]] = None,
        device: str = "cpu",
        beam_size: int = 1,
        decoding_guard_conf: Optional[dict] = None,
    ):
        import espnet_llm_entropy
        from espnet_llm_entropy.decoding import DecodingGuardConfig
        from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

        espnet_llm_entropy.register()
        model, args = LLMASRTask.build_model_from_file(asr_train_config, asr_model_file, device)
        if not hasattr(model, "generate"):
            raise ValueError(
                f"{asr_train_config} describes a {type(model).__name__}, not an LLM-ASR "
                "model (use the phone recognizer for phoneme-CTC experiments)"
            )
        self.model = model.eval()
        self.args = args
        self.device = device
        self.beam_size = beam_size
        self.guard = DecodingGuardConfig.from_dict(decoding_guard_conf)
        self.sample_rate = sample_rate_of(args)

    @torch.no_grad()
    def batch(self, waves: Sequence[Union[np.ndarray, torch.Tensor]]) -> List[Hypothesis]:
        """Transcribe several waveforms (each (S,), float, 16 kHz) in one batch."""
        waves = [torch.as_tensor(np.asarray(w), dtype=torch.float32) for w in waves]
        lengths = torch.tensor([w.numel() for w in waves], dtype=torch.long)
        speech = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True).to(self.device)
        from espnet_llm_entropy.decoding import build_logits_processors, build_stopping_criteria

        budgets = self.guard.max_new_tokens_for_durations(lengths.double() / self.sample_rate)
        ids, scores = self.model.generate(
            speech, lengths.to(self.device), max_new_tokens=int(budgets.max()),
            num_beams=self.beam_size,
            stopping_criteria=build_stopping_criteria(self.guard, 0, budgets),
            logits_processor=build_logits_processors(self.guard),
        )
        ids = [self.guard.postprocess(i) for i in ids]
        tok = self.model.tokenizer
        return [
            Hypothesis(
                text=tok.decode(i, skip_special_tokens=True).strip(),
                tokens=tok.convert_ids_to_tokens(i),
                token_ids=i,
                score=s,
            )
            for i, s in zip(ids, scores)
        ]

    def __call__(self, wave: Union[np.ndarray, torch.Tensor]) -> List[Hypothesis]:
        """Transcribe one waveform (S,); returns a one-element n-best list."""
        return self.batch([wave])
