"""LLM-ASR: speech encoder -> adaptor -> Hugging Face causal LLM (frozen / LoRA / full).

Training input per utterance: ``[prompt_before][speech tokens][prompt_after]
[transcript]``; the loss is the cross-entropy of the transcript tokens and
EOS only. An optional auxiliary phone CTC on the encoder keeps the encoder's
phonetic targets during joint training. The LM head is applied to the
predicted positions only, never to the whole (B, L, V) grid.

The phone-CTC head can also be kept without training it (``keep_ctc_head``
with ``ctc_weight: 0``): it is then loaded, with the encoder, from the
phoneme-CTC pretraining checkpoint and frozen, and decoding uses its
posteriors as speech evidence (:mod:`espnet_llm_entropy.decoding.evidence_gate`).
The persistent flag ``ctc_head_trained`` records whether the head's weights
are trained ones (loaded from pretraining or trained here), so that a
randomly initialised head is never used as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from espnet_llm_entropy.models.adaptor import AbsAdaptor
from espnet_llm_entropy.models.ctc_head import (
    MLPCTCHead,
    ctc_loss_from_logits,
    greedy_ctc_lengths,
)
from espnet_llm_entropy.models.hf_causal_lm import (
    HFCausalLM,
    load_state_dict_without_base,
)
from espnet_llm_entropy.models.prompt_layout import (
    assemble_prompted_inputs,
    prediction_positions,
)
from espnet_llm_entropy.models.speech_encoder import SpeechEncoder, check_min_length


@dataclass
class GeneratedHypothesis:
    """One generated token sequence.

    Attributes:
        ids: the kept token ids (EOS and what follows removed).
        token_logprobs: log-probability (nats, of the distribution generation
            drew from) of each kept token, then of the EOS when it ended with one.
        ended_with_eos: False when it stopped at the token budget or a
            stopping criterion.
        score: total log-probability of the kept tokens and the stopping token.
    """

    ids: List[int]
    token_logprobs: List[float]
    ended_with_eos: bool
    score: float


class LLMASRModel(AbsESPnetModel):
    """Encoder -> adaptor -> causal LLM speech recognizer.

    Args:
        vocab_size: phone inventory size (for the auxiliary CTC head).
        token_list: the phone inventory.
        speech_encoder: a :class:`SpeechEncoder`.
        adaptor: an :class:`AbsAdaptor` whose output size equals the LLM hidden size.
        llm: the :class:`HFCausalLM`.
        tokenizer: the LLM's tokenizer (prompts are tokenized once here).
        prompt_before: text placed before the speech tokens.
        prompt_after: text placed after the speech tokens (``{lang}`` is
            replaced by ``language`` when given).
        language: optional language tag for ``prompt_after``.
        ctc_weight: weight of the auxiliary phone CTC (0 disables it and no
            CTC head is built).
        ctc_head_hidden_size, ctc_head_layers: shape of the auxiliary head
            (must match the pretraining model's ``head_hidden_size`` /
            ``head_layers`` for the head to be loaded from it).
        keep_ctc_head: build the phone-CTC head even when ``ctc_weight`` is 0;
            it is then frozen and serves the CTC-evidence gate in decoding.
    """

    def __init__(
        self,
        vocab_size: int,
        token_list: Sequence[str],
        speech_encoder: SpeechEncoder,
        adaptor: AbsAdaptor,
        llm: HFCausalLM,
        tokenizer,
        prompt_before: str = "Transcribe:",
        prompt_after: str = "\n",
        language: Optional[str] = None,
        ctc_weight: float = 0.0,
        ctc_head_hidden_size: int = 256,
        ctc_head_layers: int = 3,
        keep_ctc_head: bool = False,
    ):
        super().__init__()
        if adaptor.output_size() != llm.hidden_size:
            raise ValueError(
                f"adaptor output size {adaptor.output_size()} does not match the LLM "
                f"hidden size {llm.hidden_size} (set adaptor_conf.output_size or leave it "
                "unset so the task fills it in)"
            )
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"model_conf.ctc_weight must be in [0, 1], got {ctc_weight}")
        self.vocab_size = vocab_size
        self.token_list = list(token_list)
        self.speech_encoder = speech_encoder
        self.adaptor = adaptor
        self.llm = llm
        self.tokenizer = tokenizer
        self.ctc_weight = ctc_weight
        self.ctc_head = None
        if ctc_weight > 0 or keep_ctc_head:
            self.ctc_head = MLPCTCHead(
                speech_encoder.output_size(), vocab_size, ctc_head_hidden_size, ctc_head_layers
            )
            if ctc_weight == 0:  # evidence only: never trained here
                self.ctc_head.requires_grad_(False)
            # only models with a head carry the flag, so that ESPnet's --init_param from a
            # checkpoint without a head keeps a head loaded by --ctc_head_init
            self.register_buffer("ctc_head_trained", torch.tensor(False))
        if language:
            prompt_after = prompt_after.replace("{lang}", language)
        self.register_buffer("prompt_before_ids", self._tokenize(prompt_before), persistent=False)
        self.register_buffer("prompt_after_ids", self._tokenize(prompt_after), persistent=False)
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id)
        self.grpo = None

    def enable_grpo(self, conf, reference_names: Sequence[str], rank: int = 0) -> None:
        """Train with the ``grpo`` stage's objective (:mod:`espnet_llm_entropy.models.grpo_step`).

        Args:
            conf: a :class:`~espnet_llm_entropy.rl.grpo_objective.GRPOConfig`.
            reference_names: the parameters the stage trains (their starting
                values are the KL reference).
            rank: DDP rank (mixed into the sampling seed).
        """
        from espnet_llm_entropy.models.grpo_step import GRPOStep

        self.grpo = GRPOStep(self, conf, reference_names, rank)

    def _tokenize(self, text: str) -> torch.Tensor:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        return torch.tensor(ids, dtype=torch.long)

    # ---------------------------------------------------------------- pieces
    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor):
        """speech (B, S) -> encoder_out (B, T, D), lengths (B,)."""
        enc, enc_lengths = self.speech_encoder(speech, speech_lengths)
        check_min_length(speech_lengths, enc_lengths)
        return enc, enc_lengths

    def ctc_phone_counts(self, enc: torch.Tensor, enc_lengths: torch.Tensor) -> Optional[torch.Tensor]:
        """Greedy CTC phone count per utterance, (B,) long; None without a trained head.

        Args:
            enc: (B, T, D) encoder output; enc_lengths: (B,) valid frames.
        """
        log_probs = self.ctc_log_probs(enc)
        return None if log_probs is None else greedy_ctc_lengths(log_probs, enc_lengths)

    def ctc_log_probs(self, enc: torch.Tensor) -> Optional[torch.Tensor]:
        """Phone-CTC log-posteriors (B, T, V) of encoder output (B, T, D); None without a trained head."""
        if self.ctc_head is None or not bool(self.ctc_head_trained):
            return None
        return self.ctc_head(enc).float().log_softmax(-1)

    def speech_embeddings(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (adaptor_out (B, T', H), its lengths, encoder_out (B, T, D), its lengths)."""
        enc, enc_lengths = self.encode(speech, speech_lengths)
        emb, emb_lengths = self.adaptor(enc, enc_lengths)
        return emb, emb_lengths, enc, enc_lengths

    def _prompts(self):
        return self.llm.embed_tokens(self.prompt_before_ids), self.llm.embed_tokens(self.prompt_after_ids)

    def transcript_nll(
        self,
        speech_emb: torch.Tensor,
        speech_emb_lengths: torch.Tensor,
        llm_tokens: torch.Tensor,
        llm_tokens_lengths: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced NLL of transcript + EOS given the prompted speech.

        Args:
            speech_emb: (B, T', H) adaptor outputs (pass lengths of 0 for a
                text-only prior).
            speech_emb_lengths: (B,).
            llm_tokens: (B, U) transcript ids padded with -1.
            llm_tokens_lengths: (B,).

        Returns:
            nll: (N,) per predicted token (nats), N = sum(U_b + 1);
            correct: (N,) bool, argmax == target;
            row: (N,) utterance index of each predicted token.
        """
        logits, target_flat, row, _ = self.target_logits(
            speech_emb, speech_emb_lengths, llm_tokens, llm_tokens_lengths
        )
        nll = torch.nn.functional.cross_entropy(logits, target_flat, reduction="none")
        return nll, logits.argmax(-1) == target_flat, row

    def target_logits(
        self,
        speech_emb: torch.Tensor,
        speech_emb_lengths: torch.Tensor,
        llm_tokens: torch.Tensor,
        llm_tokens_lengths: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced logits of every transcript token and the EOS after it.

        Args: as :meth:`transcript_nll`.

        Returns:
            logits: (N, V) float32, N = sum(U_b + 1), row-major;
            targets: (N,) the token each logit row predicts (EOS last in a row);
            row: (N,) utterance index; position: (N,) index within its row
            (``position == llm_tokens_lengths[row]`` marks the EOS target).
        """
        bsz = speech_emb.size(0)
        ids = llm_tokens.clamp(min=0)
        prefix, suffix = self._prompts()
        batch = assemble_prompted_inputs(
            prefix, speech_emb, speech_emb_lengths, suffix,
            self.llm.embed_tokens(ids), llm_tokens_lengths,
        )
        hidden = self.llm.hidden_states(batch.inputs_embeds, batch.attention_mask)
        num_targets = llm_tokens_lengths + 1
        pick = prediction_positions(batch, num_targets)
        logits = self.llm.lm_head(hidden[pick]).float()  # (N, V)
        targets = torch.cat([ids, ids.new_zeros(bsz, 1)], 1)
        targets.scatter_(1, llm_tokens_lengths[:, None], self.eos_id)
        positions = torch.arange(targets.size(1), device=ids.device)[None]
        tmask = positions < num_targets[:, None]
        row = torch.arange(bsz, device=ids.device)[:, None].expand_as(tmask)[tmask]
        return logits, targets[tmask], row, positions.expand_as(tmask)[tmask]

    # --------------------------------------------------------------- training
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        llm_tokens: torch.Tensor,
        llm_tokens_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """speech (B, S); text: phone ids (B, L); llm_tokens: LLM ids (B, U); pads -1.

        In the ``grpo`` stage (:meth:`enable_grpo`) a training forward is a
        GRPO update and a validation forward adds greedy reward stats.
        """
        bsz = speech.size(0)
        llm_tokens = llm_tokens[:, : llm_tokens_lengths.max()]
        if self.grpo is not None and self.training:
            loss, stats = self.grpo.training_forward(self, speech, speech_lengths, llm_tokens, llm_tokens_lengths)
            return force_gatherable((loss, stats, bsz), loss.device)
        emb, emb_lengths, enc, enc_lengths = self.speech_embeddings(speech, speech_lengths)
        nll, correct, _ = self.transcript_nll(emb, emb_lengths, llm_tokens, llm_tokens_lengths)
        loss_llm = nll.sum() / bsz
        stats = {"loss_llm": loss_llm.detach(), "acc": correct.float().mean().detach()}
        loss = loss_llm
        if self.ctc_head is not None and self.ctc_weight > 0:
            if self.training:
                self.ctc_head_trained.fill_(True)
            text = text[:, : text_lengths.max()]
            loss_ctc = ctc_loss_from_logits(self.ctc_head(enc), enc_lengths, text, text_lengths)
            loss = (1 - self.ctc_weight) * loss_llm + self.ctc_weight * loss_ctc
            stats["loss_ctc"] = loss_ctc.detach()
        stats["loss"] = loss.detach()
        stats["token_nll"] = (nll.sum() / nll.numel()).detach()
        if self.grpo is not None:  # validation of the grpo stage: greedy hypotheses' reward
            stats.update(self.grpo.validation_stats(self, enc, enc_lengths, llm_tokens, llm_tokens_lengths))
        return force_gatherable((loss, stats, bsz), loss.device)

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs):
        feats, feats_lengths = self.speech_encoder.extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}

    # -------------------------------------------------------------- inference
    @torch.no_grad()
    def generate(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        max_new_tokens: int = 64,
        num_beams: int = 1,
        **generate_kwargs,
    ) -> Tuple[List[List[int]], List[float]]:
        """Encode, then :meth:`generate_from_encoder` (speech (B, S), lengths (B,))."""
        enc, enc_lengths = self.encode(speech, speech_lengths)
        return self.generate_from_encoder(
            enc, enc_lengths, max_new_tokens=max_new_tokens, num_beams=num_beams, **generate_kwargs
        )

    @torch.no_grad()
    def generate_from_encoder(
        self,
        enc: torch.Tensor,
        enc_lengths: torch.Tensor,
        max_new_tokens: int = 64,
        num_beams: int = 1,
        **generate_kwargs,
    ) -> Tuple[List[List[int]], List[float]]:
        """Batched left-padded generation with the KV cache (greedy or beam).

        Args:
            enc: (B, T, D) encoder output, enc_lengths: (B,).
            max_new_tokens: upper bound on generated tokens.
            num_beams: 1 = greedy.
            generate_kwargs: passed to ``transformers`` ``generate``
                (``stopping_criteria``, ``logits_processor``, ...).

        Returns:
            token ids: B lists, EOS and what follows removed (B x K with
            ``num_return_sequences=K``: each input's K together, best first);
            scores: as many log-probabilities (nats) of the kept tokens plus EOS.
        """
        emb, emb_lengths = self.adaptor(enc, enc_lengths)
        hyps = self.generate_from_embeddings(
            emb, emb_lengths, max_new_tokens=max_new_tokens, num_beams=num_beams, **generate_kwargs
        )
        return [h.ids for h in hyps], [h.score for h in hyps]

    @torch.no_grad()
    def generate_from_embeddings(
        self,
        emb: torch.Tensor,
        emb_lengths: torch.Tensor,
        max_new_tokens: int = 64,
        num_beams: int = 1,
        do_sample: bool = False,
        **generate_kwargs,
    ) -> List[GeneratedHypothesis]:
        """Generation from adaptor outputs (B, T', H) with lengths (B,): greedy, beam or sampled.

        With ``do_sample=True`` pass ``temperature`` (and the caller seeds
        torch's generator); ``top_k``/``top_p`` default to off so that the
        returned log-probabilities are those of the full tempered softmax.
        """
        prefix, suffix = self._prompts()
        batch = assemble_prompted_inputs(prefix, emb, emb_lengths, suffix, left_pad=True)
        if do_sample:
            generate_kwargs = {"top_k": 0, "top_p": 1.0, **generate_kwargs}
        with self.llm.merged_lora():  # same weights, fewer kernels per decoding step
            out = self.llm.generate(
                inputs_embeds=batch.inputs_embeds,
                attention_mask=batch.attention_mask,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=do_sample,
                eos_token_id=self.eos_id,
                pad_token_id=self.pad_id,
                return_dict_in_generate=True,
                output_scores=True,
                **generate_kwargs,
            )
        steps = self.llm.model.compute_transition_scores(
            out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=True
        )
        hyps = []
        stop_ids = {self.eos_id, self.pad_id}
        for row, step_scores in zip(out.sequences.tolist(), steps.tolist()):
            # a row ends at EOS; rows stopped by a stopping criterion are padded
            n = next((i for i, t in enumerate(row) if t in stop_ids), len(row))
            ended = n < len(row) and row[n] == self.eos_id
            hyps.append(GeneratedHypothesis(
                ids=row[:n],
                token_logprobs=step_scores[: n + 1 if ended else n],
                ended_with_eos=ended,
                score=float(sum(v for v in step_scores[: min(n + 1, len(step_scores))] if v > float("-inf"))),
            ))
        return hyps

    # ------------------------------------------------------------ checkpoints
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a checkpoint that leaves the frozen base LLM out (see HFCausalLM).

        Always checks that every key other than the base LLM's matches,
        because ESPnet's ``build_model_from_file`` loads with ``strict=False``.
        """
        if self.ctc_head is not None and "ctc_head_trained" not in state_dict:
            # checkpoints written before the flag existed
            state_dict = dict(state_dict)
            state_dict["ctc_head_trained"] = torch.tensor(self.ctc_weight > 0)
        return load_state_dict_without_base(self, state_dict, strict=True)

