"""Load a trained experiment (ESPnet exp dir + checkpoint) for analysis.

An experiment dir is what ``llm_asr_train`` writes: ``config.yaml`` plus
checkpoints (``valid.acc.best.pth``, ``1epoch.pth`` ...). The model is
rebuilt with ``LLMASRTask.build_model_from_file`` after registering the
plugin, together with the task's inference-mode preprocessor (phone ids and
LLM token ids from a transcript) and collate function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from torch import nn

#: Checkpoints tried in this order when none is named.
DEFAULT_CHECKPOINTS = (
    "valid.acc.best.pth",
    "valid.per.best.pth",
    "valid.loss.best.pth",
    "valid.acc.ave.pth",
    "valid.loss.ave.pth",
)
_EPOCH_CHECKPOINT = re.compile(r"^(\d+)epoch\.pth$")


def resolve_checkpoint(exp_dir: Path, checkpoint: Optional[str] = None) -> Path:
    """Path of the checkpoint to analyse.

    Args:
        exp_dir: experiment directory.
        checkpoint: a file name inside ``exp_dir`` or a path; None picks the
            first existing of :data:`DEFAULT_CHECKPOINTS`, else the newest
            ``<N>epoch.pth``.

    Returns:
        Existing checkpoint path.

    Raises:
        FileNotFoundError: naming the dir, the requested file and the
            checkpoints that do exist.
    """
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"--exp_dir {exp_dir}: no such directory")
    available = sorted(p.name for p in exp_dir.glob("*.pth"))
    if checkpoint is not None:
        for candidate in (exp_dir / checkpoint, Path(checkpoint)):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"--checkpoint {checkpoint}: not found in {exp_dir} (available: "
            f"{', '.join(available) or 'no .pth files'})"
        )
    for name in DEFAULT_CHECKPOINTS:
        if (exp_dir / name).is_file():
            return exp_dir / name
    epochs = sorted(
        (int(m.group(1)), name) for name in available if (m := _EPOCH_CHECKPOINT.match(name))
    )
    if epochs:
        return exp_dir / epochs[-1][1]
    raise FileNotFoundError(
        f"--exp_dir {exp_dir}: no checkpoint found (looked for {', '.join(DEFAULT_CHECKPOINTS)} "
        f"and <N>epoch.pth; present: {', '.join(available) or 'no .pth files'})"
    )


@dataclass(eq=False)
class LoadedExperiment:
    """A model ready for analysis.

    Attributes:
        name: label used in reports (``<exp dir name>/<checkpoint file>``).
        exp_dir: experiment directory.
        checkpoint: checkpoint path.
        model: the model in eval mode.
        args: the training namespace from ``config.yaml``.
        preprocess_fn: inference-mode preprocessor (transcript -> ``text``
            phone ids and, with an LLM, ``llm_tokens``).
        collate_fn: ESPnet collate function (pads with -1 for ints).
    """

    name: str
    exp_dir: Path
    checkpoint: Path
    model: nn.Module
    args: object
    preprocess_fn: Optional[Callable]
    collate_fn: Callable

    @property
    def token_list(self) -> List[str]:
        """The phone inventory (CTC vocabulary)."""
        return list(self.model.token_list)

    @property
    def blank_id(self) -> int:
        """Index of ``<blank>`` in the phone inventory (0 if it has no such entry)."""
        tokens = self.token_list
        return tokens.index("<blank>") if "<blank>" in tokens else 0

    @property
    def sample_rate(self) -> Optional[int]:
        """The frontend's sampling rate, if configured."""
        conf = getattr(self.args, "frontend_conf", None) or {}
        return int(conf["fs"]) if "fs" in conf else None

    @property
    def has_llm(self) -> bool:
        """True for an LLM-ASR model."""
        return getattr(self.model, "llm", None) is not None


def experiment_name(exp_dir: Path, checkpoint: Path) -> str:
    """Report label ``<exp dir name>/<checkpoint file name>``."""
    return f"{Path(exp_dir).name}/{Path(checkpoint).name}"


def load_experiment(exp_dir: Path, checkpoint: Optional[str] = None, device: str = "cpu") -> LoadedExperiment:
    """Build the model of ``exp_dir`` with its checkpoint, preprocessor and collate function.

    Args:
        exp_dir: experiment directory with ``config.yaml``.
        checkpoint: see :func:`resolve_checkpoint`.
        device: torch device for the model.

    Raises:
        FileNotFoundError: for a missing dir, ``config.yaml`` or checkpoint.
    """
    import espnet_llm_entropy
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    exp_dir = Path(exp_dir)
    ckpt = resolve_checkpoint(exp_dir, checkpoint)
    config = exp_dir / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"--exp_dir {exp_dir}: no config.yaml (not an ESPnet experiment dir)")
    espnet_llm_entropy.register()
    model, args = LLMASRTask.build_model_from_file(str(config), str(ckpt), device)
    if not hasattr(model, "speech_encoder"):
        raise ValueError(f"{config}: model {type(model).__name__} has no speech_encoder to analyse")
    args.use_preprocessor = True
    return LoadedExperiment(
        name=experiment_name(exp_dir, ckpt),
        exp_dir=exp_dir,
        checkpoint=ckpt,
        model=model.eval(),
        args=args,
        preprocess_fn=LLMASRTask.build_preprocess_fn(args, train=False),
        collate_fn=LLMASRTask.build_collate_fn(args, train=False),
    )
