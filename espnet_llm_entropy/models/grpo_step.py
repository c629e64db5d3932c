"""The ``grpo`` training stage's forward pass for :class:`~espnet_llm_entropy.models.llm_asr.LLMASRModel`.

One training forward, for a batch of B utterances:

1. encode the speech once (the encoder is frozen in the default schedule);
2. sample G hypotheses per utterance from the current policy, in eval mode
   (no dropout), with the KV-cache generation decoding uses, seeded from
   ``grpo_conf.seed``, the update counter and the DDP rank (a resumed run
   draws the same groups);
3. score them against the reference transcripts (:mod:`~espnet_llm_entropy.rl.grpo_reward`;
   a non-speech example's reference is empty, so any output is penalised);
4. standardise the rewards within each group;
5. teacher-force the sampled tokens through the reference policy (no grad)
   and the current policy (with grad) and return the clipped surrogate plus
   the KL penalty (:mod:`~espnet_llm_entropy.rl.grpo_objective`).

The reference policy is the model the stage started from: a frozen copy of
the parameters the ``grpo`` schedule trains, taken at the first training
step (after ESPnet's ``--init_param``), kept as buffers so that a resumed
run keeps the original reference. A validation forward decodes greedily and
reports the same reward terms next to the teacher-forced loss.
"""

from __future__ import annotations

import contextlib
import time
from typing import Dict, Iterator, List, Sequence, Tuple

import torch
from torch import nn

from espnet_llm_entropy.text.token_text import text_from_token_ids
from espnet_llm_entropy.models.module_modes import eval_mode
from espnet_llm_entropy.rl.grpo_objective import GRPOConfig, clipped_policy_loss, group_advantages
from espnet_llm_entropy.rl.grpo_reward import RewardTerms, transcript_reward


@contextlib.contextmanager
def seeded_sampling(seed: int, device: torch.device) -> Iterator[None]:
    """Draw from torch's generators seeded with ``seed``; the global RNG state is restored afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _PhaseClock:
    """Wall time of consecutive phases (``lap(name)`` closes the phase that ran since the last lap)."""

    def __init__(self):
        self.laps: Dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


class PolicyReference(nn.Module):
    """A frozen copy of named parameters of a model (buffers, so checkpoints carry it).

    Args:
        model: the model whose parameters are copied.
        names: the parameter names (``model.named_parameters()`` names).
    """

    def __init__(self, model: nn.Module, names: Sequence[str]):
        super().__init__()
        params = dict(model.named_parameters())
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"the reference policy names parameters the model lacks: {missing[:5]}")
        self.names = list(names)
        for name in self.names:
            self.register_buffer(self._buffer(name), params[name].detach().clone())
        self.register_buffer("captured", torch.tensor(False))

    @staticmethod
    def _buffer(name: str) -> str:
        return name.replace(".", "__")

    def _pairs(self, model: nn.Module) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        params = dict(model.named_parameters())
        return [(params[n], getattr(self, self._buffer(n))) for n in self.names]

    @torch.no_grad()
    def capture(self, model: nn.Module) -> None:
        """Copy the model's current values (once: the stage's starting policy)."""
        for param, ref in self._pairs(model):
            ref.copy_(param)
        self.captured.fill_(True)

    @contextlib.contextmanager
    def swapped_into(self, model: nn.Module) -> Iterator[None]:
        """The model computes with the reference values inside the block (use without autograd)."""
        pairs = self._pairs(model)
        saved = [p.detach().clone() for p, _ in pairs]
        try:
            with torch.no_grad():
                for param, ref in pairs:
                    param.copy_(ref)
            yield
        finally:
            with torch.no_grad():
                for (param, _), value in zip(pairs, saved):
                    param.copy_(value)


class GRPOStep(nn.Module):
    """The GRPO objective of an LLM-ASR model (a child module: ``model.grpo``).

    Args:
        model: the :class:`LLMASRModel` (not registered as a child).
        conf: :class:`GRPOConfig`.
        reference_names: parameters the stage trains (their starting values
            are the KL reference); unused when ``conf.kl_coef`` is 0.
        rank: DDP rank, mixed into the sampling seed.
    """

    def __init__(self, model: nn.Module, conf: GRPOConfig, reference_names: Sequence[str], rank: int = 0):
        super().__init__()
        self.conf = conf
        self.rank = int(rank)
        self.reference = PolicyReference(model, reference_names) if conf.kl_coef > 0 else None
        self.register_buffer("updates", torch.tensor(0, dtype=torch.long))
        #: seconds of each phase of the last training forward (encode, sample, reward, reference, policy)
        self.last_timings: Dict[str, float] = {}

    # ----------------------------------------------------------------- pieces
    def sampling_seed(self) -> int:
        """Seed of this update's sampling: config seed, update counter, rank."""
        return (self.conf.seed * 1_000_003 + int(self.updates) * 7_919 + self.rank * 104_729) % (2**62)

    @staticmethod
    def reference_texts(model, llm_tokens: torch.Tensor, lengths: torch.Tensor) -> List[str]:
        """Transcripts of the (B, U) target ids (padded with -1)."""
        return [text_from_token_ids(model.tokenizer, row[: int(n)].tolist())
                for row, n in zip(llm_tokens, lengths)]

    def sample(self, model, emb: torch.Tensor, emb_lengths: torch.Tensor, budget: int):
        """G hypotheses per utterance from (B, T', H) adaptor outputs, in eval mode and seeded; B*G rows."""
        g = self.conf.num_samples
        with torch.no_grad(), eval_mode(model.llm), seeded_sampling(self.sampling_seed(), emb.device):
            return model.generate_from_embeddings(
                emb.detach().repeat_interleave(g, 0), emb_lengths.repeat_interleave(g, 0),
                max_new_tokens=budget, do_sample=True, temperature=self.conf.temperature,
            )

    def sampled_logprobs(self, model, emb, emb_lengths, tokens, lengths, ended):
        """Teacher-forced log-probabilities (at the sampling temperature) of the sampled tokens.

        Args:
            emb: (B, T', H), emb_lengths: (B,) adaptor outputs of the
                utterances (each serves its G hypotheses).
            tokens: (R, U) ids of the R = B*G hypotheses (utterance-major),
                padded with -1; lengths: (R,).
            ended: (R,) bool, whether the hypothesis ended with EOS (then
                the EOS is one of its tokens).

        Returns:
            logp (N,), row (N,): the hypotheses' tokens, row-major.
        """
        g = self.conf.num_samples
        logits, targets, row, position = model.target_logits(
            emb.repeat_interleave(g, 0), emb_lengths.repeat_interleave(g, 0), tokens, lengths
        )
        keep = (position < lengths[row]) | ended[row]
        logp = torch.log_softmax(logits[keep] / self.conf.temperature, dim=-1)
        return logp.gather(1, targets[keep, None])[:, 0], row[keep]

    # ---------------------------------------------------------------- forward
    def training_forward(self, model, speech, speech_lengths, llm_tokens, llm_tokens_lengths):
        """Loss and reporter stats of one GRPO update (see the module docstring)."""
        conf, g = self.conf, self.conf.num_samples
        bsz = speech.size(0)
        clock = _PhaseClock()
        if self.reference is not None and not bool(self.reference.captured):
            self.reference.capture(model)
        enc, enc_lengths = model.encode(speech, speech_lengths)
        refs = self.reference_texts(model, llm_tokens, llm_tokens_lengths)
        budget = conf.token_budget(int(llm_tokens_lengths.max()))
        with torch.no_grad(), eval_mode(model.adaptor):
            emb0, emb0_lengths = model.adaptor(enc.detach(), enc_lengths)
        clock.lap("encode")
        hyps = self.sample(model, emb0, emb0_lengths, budget)
        self.updates += 1
        clock.lap("sample")

        texts = [text_from_token_ids(model.tokenizer, h.ids) for h in hyps]
        terms = [transcript_reward(refs[i // g], text, conf.reward) for i, text in enumerate(texts)]
        rewards = torch.tensor([t.reward for t in terms], dtype=torch.float32).view(bsz, g)
        advantages = group_advantages(rewards, conf.advantage_eps).flatten().to(enc.device)

        lengths = torch.tensor([len(h.ids) for h in hyps], dtype=torch.long, device=enc.device)
        ended = torch.tensor([h.ended_with_eos for h in hyps], device=enc.device)
        tokens = torch.full((len(hyps), max(int(lengths.max()), 1)), -1, dtype=torch.long, device=enc.device)
        for i, h in enumerate(hyps):
            tokens[i, : len(h.ids)] = torch.tensor(h.ids, dtype=torch.long)
        logp_old = torch.tensor([v for h in hyps for v in h.token_logprobs], device=enc.device)
        clock.lap("reward")
        logp_ref = None
        if self.reference is not None:
            with torch.no_grad(), eval_mode(model.adaptor, model.llm), self.reference.swapped_into(model):
                emb_r, emb_lengths = model.adaptor(enc.detach(), enc_lengths)
                logp_ref, _ = self.sampled_logprobs(model, emb_r, emb_lengths, tokens, lengths, ended)
        clock.lap("reference")
        emb, emb_lengths = model.adaptor(enc, enc_lengths)
        logp, row = self.sampled_logprobs(model, emb, emb_lengths, tokens, lengths, ended)
        if logp_old.numel() != logp.numel():
            raise RuntimeError(f"GRPO: {logp_old.numel()} sampled log-probabilities but {logp.numel()} tokens")
        out = clipped_policy_loss(logp, logp_old, logp_ref, advantages, row, len(hyps),
                                  conf.clip_eps, conf.kl_coef)
        clock.lap("policy")
        self.last_timings = clock.laps
        stats = self._reward_stats(terms, lengths.float())
        stats.update(loss=out["loss"].detach(), kl=out["kl"], clip_fraction=out["clip_fraction"],
                     zero_variance_groups=(rewards.std(dim=1, unbiased=False) == 0).float().mean(),
                     sample_time=torch.tensor(clock.laps["sample"]))
        return out["loss"], stats

    @torch.no_grad()
    def validation_stats(self, model, enc, enc_lengths, llm_tokens, llm_tokens_lengths) -> Dict[str, torch.Tensor]:
        """Reward terms of greedy hypotheses (the stage's model selection can use ``reward``)."""
        refs = self.reference_texts(model, llm_tokens, llm_tokens_lengths)
        budget = self.conf.token_budget(int(llm_tokens_lengths.max()))
        ids, _ = model.generate_from_encoder(enc, enc_lengths, max_new_tokens=budget)
        terms = [transcript_reward(ref, text_from_token_ids(model.tokenizer, h), self.conf.reward)
                 for ref, h in zip(refs, ids)]
        return self._reward_stats(terms, torch.tensor([float(len(h)) for h in ids]))

    @staticmethod
    def _reward_stats(terms: Sequence[RewardTerms], gen_len: torch.Tensor) -> Dict[str, torch.Tensor]:
        def mean(values) -> torch.Tensor:
            return torch.tensor(sum(values) / max(len(values), 1))

        return {
            "reward": mean([t.reward for t in terms]),
            "reward_accuracy": mean([t.accuracy_term for t in terms]),
            "reward_hallucination": mean([t.hallucination_term for t in terms]),
            "reward_length": mean([t.length_term for t in terms]),
            "error_rate": mean([t.error_rate for t in terms]),
            "gen_len": gen_len.mean() if gen_len.numel() else torch.tensor(0.0),
        }
