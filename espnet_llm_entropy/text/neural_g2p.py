"""g2p_en's neural grapheme-to-phoneme predictor, without g2p_en's import.

The ``g2p_en`` module (installed by ``espnet-g2p-en`` or ``g2p_en``) calls
``nltk.download`` when it is imported and its ``G2p()`` needs nltk's tagger and
cmudict data, which no package registry ships. Its out-of-vocabulary
predictor, however, only needs the numpy checkpoint that the package ships
(``g2p_en/checkpoint20.npz``): a GRU encoder over letters and a greedy GRU
decoder over ARPAbet phones. This module locates that file with
``importlib.util.find_spec`` (which does not execute the package) and runs
the same encoder-decoder in numpy, so neither ``g2p_en`` nor ``nltk`` is
imported and no download can be attempted.

Differences from ``g2p_en.G2p.predict``: the special outputs ``<pad>``,
``<unk>`` and ``<s>`` and the stress-less ``UW`` of the checkpoint's output
list are never emitted (they are masked before the argmax), so every
prediction is valid stressed ARPAbet; otherwise the greedy decoding is the
same.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Dict, List, Optional

import numpy as np

# Output and input symbol lists of checkpoint20.npz, in the checkpoint's
# index order (these orders are fixed by how the model was trained).
_SPECIAL_PHONES = ["<pad>", "<unk>", "<s>", "</s>"]
_CHECKPOINT_PHONES = _SPECIAL_PHONES + (
    "AA0 AA1 AA2 AE0 AE1 AE2 AH0 AH1 AH2 AO0 AO1 AO2 AW0 AW1 AW2 AY0 AY1 AY2 "
    "B CH D DH EH0 EH1 EH2 ER0 ER1 ER2 EY0 EY1 EY2 F G HH IH0 IH1 IH2 IY0 IY1 "
    "IY2 JH K L M N NG OW0 OW1 OW2 OY0 OY1 OY2 P R S SH T TH UH0 UH1 UH2 UW "
    "UW0 UW1 UW2 V W Y Z ZH"
).split()
_GRAPHEMES = ["<pad>", "<unk>", "</s>"] + list("abcdefghijklmnopqrstuvwxyz")
_START_ID = _CHECKPOINT_PHONES.index("<s>")
_END_ID = _CHECKPOINT_PHONES.index("</s>")
_MASKED_OUTPUTS = [_CHECKPOINT_PHONES.index(p) for p in ("<pad>", "<unk>", "<s>", "UW")]
MAX_OUTPUT_PHONES = 20
CHECKPOINT_NAME = "checkpoint20.npz"


class NeuralG2pUnavailableError(RuntimeError):
    """Raised when g2p_en's checkpoint cannot be found."""


def find_g2p_en_checkpoint() -> str:
    """Path of g2p_en's ``checkpoint20.npz``, found without importing g2p_en.

    Returns:
        The absolute file path.

    Raises:
        NeuralG2pUnavailableError: if the g2p_en package (espnet-g2p-en) is not
            installed or lacks the checkpoint.
    """
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise NeuralG2pUnavailableError(
            "English OOV words need g2p_en's neural predictor: install "
            "'espnet-g2p-en' (module g2p_en); it was not found"
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, CHECKPOINT_NAME)
        if os.path.isfile(path):
            return path
    raise NeuralG2pUnavailableError(
        f"g2p_en is installed at {list(spec.submodule_search_locations)} but has no {CHECKPOINT_NAME}"
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class NeuralG2pPredictor:
    """Greedy GRU encoder-decoder that predicts ARPAbet phones of one word.

    Args:
        checkpoint: path of g2p_en's ``checkpoint20.npz``; found automatically
            when None.

    Example:
        >>> NeuralG2pPredictor()("activationist")  # doctest: +SKIP
        ['AE2', 'K', 'T', 'IH0', 'V', 'EY1', 'SH', 'AH0', 'N', 'IH0', 'S', 'T']
    """

    def __init__(self, checkpoint: Optional[str] = None):
        self.checkpoint = checkpoint or find_g2p_en_checkpoint()
        with np.load(self.checkpoint) as ckpt:
            self._w: Dict[str, np.ndarray] = {k: ckpt[k].astype(np.float32) for k in ckpt.files}
        if self._w["fc_w"].shape[0] != len(_CHECKPOINT_PHONES):
            raise NeuralG2pUnavailableError(
                f"{self.checkpoint}: expected {len(_CHECKPOINT_PHONES)} output phones, "
                f"found {self._w['fc_w'].shape[0]}"
            )
        self._grapheme_ids = {g: i for i, g in enumerate(_GRAPHEMES)}
        self._output_mask = np.zeros(len(_CHECKPOINT_PHONES), dtype=np.float32)
        self._output_mask[_MASKED_OUTPUTS] = -np.inf

    def _gru_step(self, x: np.ndarray, h: np.ndarray, prefix: str) -> np.ndarray:
        """One GRU cell step (PyTorch gate order r, z, n).

        Args:
            x: input, (B, E).
            h: previous hidden state, (B, H).
            prefix: ``"enc"`` or ``"dec"``, which weights to use.

        Returns:
            New hidden state, (B, H).
        """
        w = self._w
        gates_x = x @ w[f"{prefix}_w_ih"].T + w[f"{prefix}_b_ih"]  # (B, 3H)
        gates_h = h @ w[f"{prefix}_w_hh"].T + w[f"{prefix}_b_hh"]  # (B, 3H)
        hidden = h.shape[-1]
        reset = _sigmoid(gates_x[:, :hidden] + gates_h[:, :hidden])
        update = _sigmoid(gates_x[:, hidden : 2 * hidden] + gates_h[:, hidden : 2 * hidden])
        candidate = np.tanh(gates_x[:, 2 * hidden :] + reset * gates_h[:, 2 * hidden :])
        return (1.0 - update) * candidate + update * h

    def __call__(self, word: str) -> List[str]:
        """Predict the phones of one word.

        Args:
            word: letters a-z (other characters are read as the unknown
                grapheme; upper case is lowered).

        Returns:
            Stressed ARPAbet phones (may be empty for an empty word).
        """
        word = word.lower()
        if not word:
            return []
        ids = [self._grapheme_ids.get(c, 1) for c in word] + [self._grapheme_ids["</s>"]]
        emb = self._w["enc_emb"][ids]  # (L + 1, E)
        h = np.zeros((1, self._w["enc_w_hh"].shape[1]), dtype=np.float32)
        for t in range(emb.shape[0]):
            h = self._gru_step(emb[t : t + 1], h, "enc")
        prev = _START_ID
        phones: List[str] = []
        for _ in range(MAX_OUTPUT_PHONES):
            x = self._w["dec_emb"][[prev]]  # (1, E)
            h = self._gru_step(x, h, "dec")
            logits = h @ self._w["fc_w"].T + self._w["fc_b"]  # (1, P)
            best = int(np.argmax(logits[0] + self._output_mask))
            if best == _END_ID:
                break
            phones.append(_CHECKPOINT_PHONES[best])
            prev = best
        return phones
