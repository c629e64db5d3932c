"""Programmatic recognition with a trained LLM-ASR model (like ESPnet's Speech2Text)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
        score: log-probability (nats) of the tokens and EOS under the LLM (0
            when the LLM was not run).
        ctc_phones: greedy CTC phone count of the encoder's phone head (the
            speech evidence), None without a trained head.
        skipped: why the LLM was not run, or None: ``"too_short"`` (fewer
            samples than the encoder needs) or ``"no_speech_evidence"`` (the
            CTC-evidence gate).
        ctc_score: with CTC rescoring (``ctc_weight`` > 0), log P_CTC (nats)
            of the transcript's phones given the audio; None otherwise.
    """

    text: str
    tokens: List[str]
    token_ids: List[int]
    score: float
    ctc_phones: Optional[int] = None
    skipped: Optional[str] = None
    ctc_score: Optional[float] = None


@dataclass
class PreparedBatch:
    """Waveforms ready for the encoder: mono, the model's rate, long enough.

    Attributes:
        keys: the B utterance ids.
        rows: indices (into the B inputs) of the waveforms kept.
        waves: their (S_i,) float32 tensors.
        lengths: (len(rows),) sample counts.
        too_short: indices of inputs shorter than the encoder needs.
    """

    keys: List[str]
    rows: List[int] = field(default_factory=list)
    waves: List[torch.Tensor] = field(default_factory=list)
    lengths: Optional[torch.Tensor] = None
    too_short: List[int] = field(default_factory=list)


def empty_hypothesis(reason: str, ctc_phones: Optional[int] = None) -> Hypothesis:
    """The result of an utterance the LLM was not run for."""
    return Hypothesis(text="", tokens=[], token_ids=[], score=0.0, ctc_phones=ctc_phones,
                      skipped=reason)


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
        beam_size: 1 = greedy search; N > 1: beam search, and with
            ``ctc_weight`` > 0 the N-best list is rescored.
        ctc_weight: weight w of the phone-CTC head in joint decoding: the
            hypothesis kept maximises (1 - w) log P_LLM + w log P_CTC(phones)
            over the beam's N-best (:mod:`espnet_llm_entropy.decoding.ctc_rescoring`);
            0 = the LLM alone. Needs a model with a trained CTC head.
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
        ctc_weight: float = 0.0,
    ):
        import espnet_llm_entropy
        from espnet_llm_entropy.decoding import DecodingGuardConfig
        from espnet_llm_entropy.decoding.ctc_rescoring import TranscriptPhones, check_ctc_weight
        from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

        from espnet_llm_entropy.train.checkpoint_files import check_checkpoint_file

        espnet_llm_entropy.register()
        if asr_model_file is not None:  # a truncated file is named, not a bare torch error
            check_checkpoint_file(asr_model_file, "asr_model_file")
        model, args = LLMASRTask.build_model_from_file(asr_train_config, asr_model_file, device)
        if not hasattr(model, "generate"):
            raise ValueError(
                f"{asr_train_config} describes a {type(model).__name__}, not an LLM-ASR "
                "model (use the phone recognizer for phoneme-CTC experiments)"
            )
        self.model = model.eval()
        self.args = args
        self.device = device
        if int(beam_size) < 1:
            raise ValueError(f"beam_size must be >= 1 (1: greedy search), got {beam_size}")
        self.beam_size = int(beam_size)
        self.ctc_weight = check_ctc_weight(ctc_weight)
        self.rescorer = None
        if self.ctc_weight > 0:
            if model.ctc_head is None or not bool(model.ctc_head_trained):
                raise ValueError(
                    f"ctc_weight {ctc_weight}: {asr_train_config} has no trained phone-CTC head to "
                    "rescore with (train with model_conf.keep_ctc_head: true, or use ctc_weight 0)"
                )
            if self.beam_size == 1:
                logging.warning("ctc_weight %s with beam_size 1: a 1-best list has nothing to rescore",
                                ctc_weight)
            self.rescorer = TranscriptPhones(model.token_list)
        self.guard = DecodingGuardConfig.from_dict(decoding_guard_conf)
        self.sample_rate = sample_rate_of(args)
        self._min_samples_cache: Optional[int] = None

    @classmethod
    def from_pretrained(
        cls,
        pack_or_dir: Union[str, Path],
        llm_dir: Optional[Union[str, Path]] = None,
        unpack_dir: Optional[Union[str, Path]] = None,
        **kwargs,
    ) -> "LLMSpeech2Text":
        """Load a packed model (asr.sh stage 14, ``llm_asr_pack``) in any directory.

        Args:
            pack_or_dir: the pack file (``.zip``/``.tar*``) or its unpacked
                folder (an ESPnet Hugging Face model repository). Nothing is
                downloaded.
            llm_dir: the base LLM, when the pack does not hold it; checked
                against the fingerprint stored in the pack. Without it the
                LLM's path as trained is tried.
            unpack_dir: where a pack file is extracted (default: a cache
                folder keyed by the pack's sha256).
            **kwargs: ``device``, ``beam_size``, ``ctc_weight``, ``decoding_guard_conf``.

        Raises:
            espnet_llm_entropy.packing.llm_identity.LLMIdentityError: a wrong
                or missing base LLM (names it and the pack's).
            espnet_llm_entropy.packing.packed_model.PackError: a corrupt,
                truncated or foreign pack.

        Example:
            >>> s2t = LLMSpeech2Text.from_pretrained("llm_asr_method_valid.acc.ave.zip")
        """
        import shutil
        import tempfile

        import yaml

        from espnet_llm_entropy.packing.packed_model import open_pack

        packed = open_pack(pack_or_dir, unpack_dir)
        llm = packed.base_llm(llm_dir)
        work = Path(tempfile.mkdtemp(prefix="llm_asr_pack_config."))
        try:
            config = work / "config.yaml"
            config.write_text(
                yaml.safe_dump(packed.resolved_config(llm), allow_unicode=True, sort_keys=False),
                encoding="utf-8",
            )
            s2t = cls(config, packed.model_file, **kwargs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        s2t.packed = packed
        return s2t

    def _min_samples(self) -> int:
        """Fewest waveform samples for which the encoder yields a frame (found once)."""
        if self._min_samples_cache is None:
            from espnet_llm_entropy.tasks.encoder_frames import EncoderFrameCounter

            counter = EncoderFrameCounter(self.model.speech_encoder)
            self._min_samples_cache = counter.shortest_input(1, longest=4 * self.sample_rate)
        return self._min_samples_cache

    def _prepare(self, wave, rate: Optional[int], key: str) -> np.ndarray:
        from espnet_llm_entropy.decoding.input_audio import prepare_waveform

        if isinstance(wave, torch.Tensor):
            wave = wave.detach().cpu().numpy()
        return prepare_waveform(np.asarray(wave), rate or self.sample_rate, self.sample_rate, key)

    def _prepared_batch(self, waves, sample_rates, keys) -> "PreparedBatch":
        keys = list(keys) if keys is not None else [f"utt{i}" for i in range(len(waves))]
        rates = list(sample_rates) if sample_rates is not None else [None] * len(waves)
        if not len(keys) == len(rates) == len(waves):
            raise ValueError(
                f"batch: {len(waves)} waveforms, {len(keys)} keys and {len(rates)} sample rates"
            )
        batch = PreparedBatch(keys=keys)
        for i, (wave, rate, key) in enumerate(zip(waves, rates, keys)):
            wave = self._prepare(wave, rate, key)
            if wave.size < self._min_samples():
                logging.warning(
                    "%s: %d samples (%.3f s) is shorter than the encoder needs (%d samples); "
                    "empty hypothesis", key, wave.size, wave.size / self.sample_rate,
                    self._min_samples(),
                )
                batch.too_short.append(i)
            else:
                batch.rows.append(i)
                batch.waves.append(torch.from_numpy(wave))
        batch.lengths = torch.tensor([w.numel() for w in batch.waves], dtype=torch.long)
        return batch

    def _encode(self, batch: "PreparedBatch"):
        speech = torch.nn.utils.rnn.pad_sequence(batch.waves, batch_first=True).to(self.device)
        return self.model.encode(speech, batch.lengths.to(self.device))

    @torch.no_grad()
    def ctc_phone_counts(
        self,
        waves: Sequence[Union[np.ndarray, torch.Tensor]],
        sample_rates: Optional[Sequence[int]] = None,
        keys: Optional[Sequence[str]] = None,
    ) -> List[int]:
        """The speech evidence of each waveform: its greedy CTC phone count.

        Runs the encoder and the phone-CTC head only (no LLM); waveforms too
        short for the encoder count 0. Raises ValueError when the model has
        no trained CTC head.
        """
        prepared = self._prepared_batch(waves, sample_rates, keys)
        counts = [0] * len(waves)
        if prepared.rows:
            found = self.model.ctc_phone_counts(*self._encode(prepared))
            if found is None:
                raise ValueError(
                    "this model has no trained phone-CTC head (train it with "
                    "model_conf.keep_ctc_head: true and --ctc_head_init, or ctc_weight > 0)"
                )
            for i, n in zip(prepared.rows, found.tolist()):
                counts[i] = int(n)
        return counts

    @torch.no_grad()
    def batch(
        self,
        waves: Sequence[Union[np.ndarray, torch.Tensor]],
        sample_rates: Optional[Sequence[int]] = None,
        keys: Optional[Sequence[str]] = None,
    ) -> List[Hypothesis]:
        """Transcribe several waveforms in one batch.

        Args:
            waves: B waveforms, each (S,) or multi-channel (S, C), float.
            sample_rates: their rates in Hz (None: the model's rate); other
                rates are resampled, multi-channel audio is down-mixed, each
                with a warning.
            keys: utterance ids for warnings (default ``utt<i>``).

        Returns:
            B hypotheses, in order. Waveforms too short for the encoder and
            utterances without CTC speech evidence (the gate, see
            :mod:`espnet_llm_entropy.decoding.evidence_gate`) get an empty
            hypothesis without running the LLM.
        """
        from espnet_llm_entropy.decoding import build_logits_processors, build_stopping_criteria
        from espnet_llm_entropy.decoding.evidence_gate import gate_keep_mask
        from espnet_llm_entropy.models.ctc_head import greedy_ctc_lengths

        results: List[Optional[Hypothesis]] = [None] * len(waves)
        prepared = self._prepared_batch(waves, sample_rates, keys)
        keys = prepared.keys
        for i in prepared.too_short:
            results[i] = empty_hypothesis("too_short")
        if prepared.rows:
            rows, lengths = prepared.rows, prepared.lengths
            enc, enc_lengths = self._encode(prepared)
            log_probs = self.model.ctc_log_probs(enc)  # the gate's evidence and the rescoring's CTC term
            counts = None if log_probs is None else greedy_ctc_lengths(log_probs, enc_lengths)
            budgets = self.guard.token_budgets(lengths.double() / self.sample_rate, counts)
            keep = torch.ones(len(rows), dtype=torch.bool)
            if counts is not None and self.guard.ctc_gate:
                keep = gate_keep_mask(counts, self.guard.min_ctc_phones)
            for j in torch.nonzero(~keep).flatten().tolist():
                results[rows[j]] = empty_hypothesis("no_speech_evidence", int(counts[j]))
            kept = torch.nonzero(keep).flatten()
            if kept.numel():
                index = kept.to(self.device)
                kept_budgets = budgets[kept]
                kept_enc, kept_lengths = enc.index_select(0, index), enc_lengths.index_select(0, index)
                nbest = self.beam_size if self.rescorer is not None else 1
                extra = dict(num_return_sequences=nbest, length_penalty=0.0) if nbest > 1 else {}
                ids, scores = self.model.generate_from_encoder(
                    kept_enc, kept_lengths,
                    max_new_tokens=int(kept_budgets.max()), num_beams=self.beam_size,
                    stopping_criteria=build_stopping_criteria(self.guard, 0, kept_budgets),
                    logits_processor=build_logits_processors(self.guard), **extra,
                )
                for n, j in enumerate(kept.tolist()):
                    evidence = None if counts is None else int(counts[j])
                    span = slice(n * nbest, (n + 1) * nbest)  # generate returns each input's N-best together
                    if self.rescorer is None:
                        results[rows[j]] = self._hypothesis(
                            self.guard.postprocess(ids[n]), scores[n], evidence, keys[rows[j]])
                    else:  # the constructor made sure the head is trained, so log_probs is set
                        results[rows[j]] = self._rescored(
                            ids[span], scores[span], log_probs[j, : int(enc_lengths[j])], evidence, keys[rows[j]])
        return results

    def _rescored(
        self, nbest_ids: List[List[int]], nbest_scores: List[float], log_probs: torch.Tensor,
        ctc_phones: Optional[int], key: str,
    ) -> Hypothesis:
        """The best of one utterance's N-best (token ids, LLM scores) by the joint score.

        Args:
            log_probs: (T, V) CTC log-posteriors of the utterance's T valid frames.
        """
        from espnet_llm_entropy.decoding.ctc_rescoring import ctc_log_likelihoods, rank_candidates

        built = [self._hypothesis(self.guard.postprocess(i), s, ctc_phones, key)
                 for i, s in zip(nbest_ids, nbest_scores)]
        ctc = ctc_log_likelihoods(log_probs, [self.rescorer(h.text) for h in built]).tolist()
        best = rank_candidates([h.score for h in built], ctc, self.ctc_weight)[0]
        chosen = built[best.index]
        chosen.ctc_score = best.ctc_score
        return chosen

    def _hypothesis(
        self, ids: List[int], score: float, ctc_phones: Optional[int], key: str
    ) -> Hypothesis:
        from espnet_llm_entropy.text.token_text import text_from_token_ids

        tok = self.model.tokenizer
        return Hypothesis(
            text=text_from_token_ids(tok, ids, key),
            tokens=tok.convert_ids_to_tokens(ids),
            token_ids=ids,
            score=score,
            ctc_phones=ctc_phones,
        )

    def __call__(
        self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int] = None
    ) -> List[Hypothesis]:
        """Transcribe one waveform (S,) or (S, C); returns a one-element n-best list."""
        return self.batch([wave], None if sample_rate is None else [sample_rate])
