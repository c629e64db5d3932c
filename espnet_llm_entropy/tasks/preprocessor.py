"""Preprocessing for our task: one Kaldi ``text`` -> two target streams.

``text`` (a transcript string) becomes
  * ``text``: phone ids from the phone front-end and the phone inventory
    (targets of the CTC head), and
  * ``llm_tokens``: ids from the LLM's own tokenizer (targets of the LLM).
Transcript symbols the phone front-end cannot read follow the unknown-symbol
policy ``phonemizer_conf.on_unknown`` (:mod:`espnet_llm_entropy.text.unknown_symbols`:
``error`` by default, naming the utterance and the symbols; ``skip``,
``drop`` or ``unk``), the same policy as ``text_to_phones``. Training never
gets an empty phone target from a transcript: the utterance check
(:mod:`espnet_llm_entropy.tasks.utterance_check`) leaves such utterances
out before batching, and the preprocessor refuses one that reaches it.
Phones missing from the inventory map to ``<unk>``; they are counted and
reported, never silently dropped.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional, Sequence, Union

import numpy as np
from espnet2.train.preprocessor import AbsPreprocessor


class LLMASRPreprocessor(AbsPreprocessor):
    """Builds ``text`` (phone ids) and ``llm_tokens`` (LLM ids) from a transcript.

    Args:
        train: training mode (augmentation only applies then).
        token_list: phone inventory (path or list; ``<blank>`` first).
        llm_tokenizer: a tokenizer (or None for a phone-only model).
        phonemizer_conf: the transcript reader: ``unit`` (``phone``, default,
            or ``char``), ``on_unknown`` (the unknown-symbol policy, default
            ``error``) and the reader's other keyword arguments (see
            :func:`~espnet_llm_entropy.text.character_units.build_unit_reader`).
        augmentation: optional callable ``(wave (T,), rng) -> wave (T',)``
            applied to ``speech`` in training only.
        nonspeech_examples: optional
            :class:`~espnet_llm_entropy.augment.nonspeech_examples.NonSpeechExamples`;
            in training it replaces some utterances by non-speech with empty
            targets (the transcript is still checked first).
        seed: seed of the augmentation; each utterance draws from a
            generator fixed by (seed, utterance id, call count), so results do
            not depend on which data-loader worker handles it.
    """

    def __init__(
        self,
        train: bool,
        token_list: Union[str, Sequence[str]],
        llm_tokenizer=None,
        phonemizer_conf: Optional[Dict] = None,
        augmentation=None,
        seed: int = 0,
        nonspeech_examples=None,
        speech_name: str = "speech",
        text_name: str = "text",
    ):
        super().__init__(train)
        from espnet_llm_entropy.text.phone_inventory import PhoneInventory
        from espnet_llm_entropy.text.unknown_symbols import reader_with_policy

        if isinstance(token_list, str):
            self.inventory = PhoneInventory.from_file(token_list)
        else:
            self.inventory = PhoneInventory(list(token_list))
        self.phonemizer, self.on_unknown = reader_with_policy(phonemizer_conf)
        self.llm_tokenizer = llm_tokenizer
        self.augmentation = augmentation
        self.nonspeech_examples = nonspeech_examples
        self.seed = seed
        self.calls: Dict[str, int] = {}
        self.speech_name = speech_name
        self.text_name = text_name

    def __call__(self, uid: str, data: Dict[str, Union[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        nonspeech = False
        if self.speech_name in data:
            wave = np.asarray(data[self.speech_name])
            if self.train and (self.augmentation is not None or self.nonspeech_examples is not None):
                from espnet_llm_entropy.augment import utterance_rng

                # the n-th time this process sees an utterance ~ its epoch
                count = self.calls.get(uid, 0)
                self.calls[uid] = count + 1
                replacement = None
                if self.nonspeech_examples is not None:
                    rng = utterance_rng(self.seed, f"nonspeech/{uid}", count)
                    replacement = self.nonspeech_examples.draw(wave, rng)
                if replacement is not None:
                    wave, nonspeech = replacement, True
                elif self.augmentation is not None:
                    wave = self.augmentation(wave, utterance_rng(self.seed, uid, count))
            data[self.speech_name] = wave.astype(np.float32)
        if self.text_name in data and isinstance(data[self.text_name], str):
            transcript = data[self.text_name]
            if not transcript.strip():
                raise ValueError(
                    f"utterance {uid}: empty transcript in '{self.text_name}' "
                    "(remove it from training data; empty references belong to "
                    "non-speech test sets, which are decoded without text)"
                )
            if nonspeech:  # the audio was replaced by non-speech: empty targets
                data[self.text_name] = np.zeros(0, dtype=np.int64)
                if self.llm_tokenizer is not None:
                    data["llm_tokens"] = np.zeros(0, dtype=np.int64)
                return data
            phones = self._target_units(uid, transcript)
            ids = self.inventory.encode(phones)
            n_unk = sum(1 for i in ids if i == self.inventory.unk_id)
            if n_unk:
                logging.warning(
                    "utterance %s: %d of %d phones are not in the phone inventory -> <unk> "
                    "(%d/%d so far in this process); rebuild the inventory from the data",
                    uid, n_unk, len(ids), self.inventory.num_unknown, self.inventory.num_encoded,
                )
            data[self.text_name] = np.asarray(ids, dtype=np.int64)
            if self.llm_tokenizer is not None:
                tok_ids = self.llm_tokenizer(transcript, add_special_tokens=False)["input_ids"]
                data["llm_tokens"] = np.asarray(tok_ids, dtype=np.int64)
        return data

    def _target_units(self, uid: str, transcript: str):
        """The phone target of ``transcript`` under the unknown-symbol policy.

        Raises:
            UnknownSymbolsError: policy ``error`` and unreadable symbols.
            ValueError: in training, a transcript left without phones (or
                one the policy ``skip`` leaves out) reached the preprocessor;
                outside training (statistics, validation) it gets an empty
                target instead.
        """
        from espnet_llm_entropy.text.unknown_symbols import read_transcript

        read = read_transcript(self.phonemizer, self.on_unknown, uid, transcript,
                               option="--phonemizer_conf on_unknown")
        if read.units and not read.skipped:
            return read.units
        why = (f"on_unknown=skip leaves it out (unreadable {sorted(set(read.unknown))[:5]})" if read.skipped
               else f"its transcript {transcript[:50]!r} gives no phones")
        if self.train:
            raise ValueError(
                f"utterance {uid}: {why}; it is never trained on an empty CTC target. Keep "
                "--utterance_check_conf enabled=true (it leaves such utterances out before batching) "
                "or remove the utterance from the data"
            )
        logging.debug("utterance %s: %s; empty target outside training", uid, why)
        return []
