"""``LLMASRTask``: ESPnet's ASR task extended with our models.

Same command line as ``espnet2.bin.asr_train`` (``--frontend``, ``--specaug``,
``--normalize``, ``--encoder`` with every ESPnet encoder, ``--token_list``,
``--print_config``, YAML configs ...) plus:

* ``--model {llm_asr,phoneme_ctc}`` / ``--model_conf``;
* ``--adaptor frame_stack_mlp`` / ``--adaptor_conf`` (output size defaults
  to the LLM hidden size);
* ``--llm {hf_causal_lm,none}`` / ``--llm_conf`` (``path``, ``train_mode``,
  ``lora_conf``);
* ``--phonemizer_conf``, ``--robustness_aug_conf`` (training-time silence
  padding and noise), ``--speech_encoder_init`` (strictly verified encoder
  weights from a phoneme-CTC checkpoint or a published encoder version).

``--token_list`` is the phone inventory (the CTC vocabulary); the LLM keeps
its own tokenizer, loaded from ``llm_conf.path``.
"""

from __future__ import annotations

import argparse
import sys
import weakref
from typing import Callable, Dict, Optional

import numpy as np
import torch
from espnet2.tasks.asr import (
    ASRTask,
    encoder_choices,
    frontend_choices,
    normalize_choices,
    specaug_choices,
)
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet2.train.class_choices import ClassChoices
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str_or_none

from espnet_llm_entropy.models.adaptor import AbsAdaptor, FrameStackMLPAdaptor
from espnet_llm_entropy.models.encoder_checkpoint import load_ctc_head, load_speech_encoder
from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
from espnet_llm_entropy.models.llm_asr import LLMASRModel
from espnet_llm_entropy.models.phoneme_ctc import PhonemeCTCModel
from espnet_llm_entropy.models.speech_encoder import SpeechEncoder
from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor
from espnet_llm_entropy.tasks.utterance_check import build_checked_iter_factory
from espnet_llm_entropy.train.checkpoint_files import check_checkpoint_file
from espnet_llm_entropy.train.multi_stage_trainer import MultiStageTrainer, check_trainer_compatibility
from espnet_llm_entropy.train.startup_cleanup import remove_startup_files_on_failure

model_choices = ClassChoices(
    "model",
    classes=dict(llm_asr=LLMASRModel, phoneme_ctc=PhonemeCTCModel),
    type_check=AbsESPnetModel,
    default="llm_asr",
)
adaptor_choices = ClassChoices(
    "adaptor",
    classes=dict(frame_stack_mlp=FrameStackMLPAdaptor),
    type_check=AbsAdaptor,
    default="frame_stack_mlp",
    optional=True,
)
llm_choices = ClassChoices(
    "llm",
    classes=dict(hf_causal_lm=HFCausalLM),
    type_check=torch.nn.Module,
    default="hf_causal_lm",
    optional=True,
)


def _build_optional(choices: ClassChoices, name: Optional[str], conf: Dict, **kwargs):
    if name is None:
        return None
    return choices.get_class(name)(**kwargs, **conf)


class LLMASRTask(ASRTask):
    """ESPnet task for phoneme-CTC encoders and LLM-ASR models."""

    class_choices_list = [
        frontend_choices,
        specaug_choices,
        normalize_choices,
        model_choices,
        encoder_choices,
        adaptor_choices,
        llm_choices,
    ]

    # stage schedule, CKA publication, encoder hot-swap, drift (espnet_llm_entropy.train)
    trainer = MultiStageTrainer
    # the speech encoder of the model being trained, for the utterance check's frame counts
    _checked_speech_encoder: Optional[weakref.ref] = None

    @classmethod
    def main_worker(cls, args: argparse.Namespace):
        check_trainer_compatibility(args)  # before ESPnet's own, vaguer DeepSpeed error
        check_init_files(args)
        rank0 = getattr(args, "dist_rank", None) in (None, 0)
        with remove_startup_files_on_failure(args.output_dir, enabled=rank0 and not args.collect_stats):
            super().main_worker(args)

    @classmethod
    def build_sequence_iter_factory(cls, args: argparse.Namespace, iter_options, mode: str):
        """ESPnet's sequence iterator over the utterances the utterance check keeps (``--utterance_check_conf``)."""
        encoder = cls._checked_speech_encoder() if cls._checked_speech_encoder is not None else None
        return build_checked_iter_factory(
            lambda options: super(LLMASRTask, cls).build_sequence_iter_factory(args, options, mode),
            args, iter_options, mode, encoder,
        )

    @classmethod
    def print_config(cls, file=None) -> None:
        """``--print_config``: ESPnet's, always to the current ``sys.stdout``."""
        super().print_config(file=file or sys.stdout)

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="espnet-llm-entropy")
        group.add_argument(
            "--phonemizer_conf",
            action=NestedDictAction,
            default=dict(),
            help="Transcript reader of the CTC targets: unit=phone (default; keyword arguments of "
            "espnet_llm_entropy.text.phonemizer.Phonemizer) or unit=char (character units, "
            "espnet_llm_entropy.text.character_units.CharacterUnits)",
        )
        group.add_argument(
            "--robustness_aug_conf",
            action=NestedDictAction,
            default=None,
            help="Training-time silence padding + noise mixing "
            "(espnet_llm_entropy.augment.RobustnessAugmentation options); "
            "None disables it",
        )
        group.add_argument(
            "--speech_encoder_init",
            type=str_or_none,
            default=None,
            help="Checkpoint whose speech encoder weights initialise ours "
            "(a phoneme-CTC model checkpoint or a published encoder_v<N>.pth); "
            "every key must match",
        )
        group.add_argument(
            "--utterance_check_conf",
            action=NestedDictAction,
            default=dict(),
            help="Which utterances training uses (espnet_llm_entropy.tasks.utterance_check): enabled, "
            "ctc_feasible (leave out utterances too short for CTC to align their phones), "
            "min_encoder_frames, max_skipped_fraction",
        )
        group.add_argument(
            "--ctc_head_init",
            type=str_or_none,
            default=None,
            help="Phoneme-CTC checkpoint whose CTC head initialises the LLM-ASR model's "
            "(model_conf.keep_ctc_head or ctc_weight > 0); the head then serves the "
            "CTC-evidence gate of decoding. Applied before --init_param, which overrides "
            "it only when the init checkpoint holds a CTC head itself",
        )
        group.add_argument(
            "--nonspeech_examples_conf",
            action=NestedDictAction,
            default=None,
            help="Training-time non-speech examples with empty targets "
            "(espnet_llm_entropy.augment.NonSpeechExamples options: prob, noise_scp, ...); "
            "None disables them",
        )
        group.add_argument(
            "--grpo_conf",
            action=NestedDictAction,
            default=dict(),
            help="Options of --training_stage grpo (espnet_llm_entropy.rl.grpo_objective.GRPOConfig): "
            "num_samples, temperature, max_new_tokens, length_slack, min_new_tokens, clip_eps, kl_coef, "
            "seed, reward: {error_weight, error_scale, hallucination_weight, min_length_ratio, "
            "max_length_ratio, length_weight, unit}",
        )

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        tokenizer = None
        if getattr(args, "llm", None) is not None:
            from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

            tokenizer = load_llm_tokenizer(_llm_path(args))
        augmentation = None
        if train and getattr(args, "robustness_aug_conf", None):
            from espnet_llm_entropy.augment import RobustnessAugmentation

            augmentation = RobustnessAugmentation.from_dict(args.robustness_aug_conf)
        nonspeech = None
        if train and getattr(args, "nonspeech_examples_conf", None):
            from espnet_llm_entropy.augment.nonspeech_examples import NonSpeechExamples

            nonspeech = NonSpeechExamples.from_dict(args.nonspeech_examples_conf)
        return LLMASRPreprocessor(
            train=train,
            token_list=args.token_list,
            llm_tokenizer=tokenizer,
            phonemizer_conf=args.phonemizer_conf,
            augmentation=augmentation,
            seed=args.seed,
            nonspeech_examples=nonspeech,
        )

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False):
        return ()

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> AbsESPnetModel:
        if isinstance(args.token_list, str):
            with open(args.token_list, encoding="utf-8") as f:
                args.token_list = [line.rstrip() for line in f]
        if not args.token_list:
            raise ValueError("--token_list (the phone inventory) is required")
        token_list = list(args.token_list)

        frontend = None
        input_size = args.input_size
        if input_size is None:
            frontend = _build_optional(frontend_choices, args.frontend, args.frontend_conf)
            input_size = frontend.output_size()
        specaug = _build_optional(specaug_choices, args.specaug, args.specaug_conf)
        normalize = _build_optional(normalize_choices, args.normalize, args.normalize_conf)
        encoder = encoder_choices.get_class(args.encoder)(input_size=input_size, **args.encoder_conf)
        speech_encoder = SpeechEncoder(frontend, specaug, normalize, encoder)

        parts = {"speech_encoder": speech_encoder}
        if getattr(args, "llm", None) is not None:
            from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

            llm = llm_choices.get_class(args.llm)(**args.llm_conf)
            adaptor_conf = dict(args.adaptor_conf)
            adaptor_conf.setdefault("output_size", llm.hidden_size)
            parts["llm"] = llm
            parts["tokenizer"] = load_llm_tokenizer(_llm_path(args))
            parts["adaptor"] = _build_optional(
                adaptor_choices, args.adaptor, adaptor_conf, input_size=encoder.output_size()
            )
        model_class = model_choices.get_class(args.model)
        try:
            model = model_class(
                vocab_size=len(token_list), token_list=token_list, **parts, **args.model_conf
            )
        except TypeError as e:
            raise TypeError(
                f"--model {args.model} cannot be built from these options ({e}); "
                "phoneme_ctc needs --llm none, llm_asr needs --llm hf_causal_lm "
                "--llm_conf path=<local model dir>; check the model_conf keys"
            ) from e
        if getattr(args, "speech_encoder_init", None):
            check_checkpoint_file(args.speech_encoder_init, "--speech_encoder_init")
            load_speech_encoder(model, args.speech_encoder_init)
        if getattr(args, "ctc_head_init", None):
            load_ctc_head(model, args.ctc_head_init)
        if getattr(args, "training_stage", None) == "grpo":
            enable_grpo_stage(model, args)
        cls._checked_speech_encoder = weakref.ref(model.speech_encoder)
        return model


def enable_grpo_stage(model: AbsESPnetModel, args: argparse.Namespace) -> None:
    """``--training_stage grpo``: the model's training forward becomes a GRPO update.

    The KL reference holds the parameters that the ``grpo`` entry of the stage
    schedule trains (as the model was built: a LoRA LLM's base stays out).
    """
    from espnet_llm_entropy.rl.grpo_objective import GRPOConfig
    from espnet_llm_entropy.train.stage_schedule import parse_stage_schedule, stage_trainable_flags

    if not isinstance(model, LLMASRModel):
        raise ValueError(f"--training_stage grpo trains an LLM-ASR model (--model llm_asr), not --model {args.model}")
    conf = GRPOConfig.from_dict(getattr(args, "grpo_conf", None))
    spec = parse_stage_schedule(getattr(args, "stage_schedule", None))["grpo"]
    flags = stage_trainable_flags({n: p.requires_grad for n, p in model.named_parameters()}, spec)
    rank = getattr(args, "dist_rank", None) or 0
    model.enable_grpo(conf, [n for n, trains in flags.items() if trains], rank=rank)


def check_init_files(args: argparse.Namespace) -> None:
    """Refuse missing or truncated checkpoint files of the init options before anything is built."""
    for option in ("speech_encoder_init", "ctc_head_init"):
        if getattr(args, option, None):
            check_checkpoint_file(getattr(args, option), f"--{option}")
    for spec in getattr(args, "init_param", None) or []:
        check_checkpoint_file(spec.split(":")[0], f"--init_param {spec}")


def _llm_path(args: argparse.Namespace) -> str:
    path = (args.llm_conf or {}).get("path")
    if not path:
        raise ValueError("--llm_conf path=<local Hugging Face model directory> is required")
    return path

