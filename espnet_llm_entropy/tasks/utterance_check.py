"""The utterance check of training: which utterances a training run may use, decided before it starts.

ESPnet builds each epoch's mini-batches from the keys of the shape files;
:class:`~espnet_llm_entropy.tasks.llm_asr.LLMASRTask` passes those keys
through :func:`check_utterances` first (``--utterance_check_conf``, for the
training and the validation set) and batches only the utterances kept.

Errors (the run stops before anything trains, every problem named):

* a line of an audio list (``wav.scp``, type ``sound`` and friends) with an
  utterance id and no path: file, line and id;
* a transcript that is not UTF-8: file and line;
* unreadable transcript symbols under the unknown-symbol policy ``error``
  (the default; :mod:`espnet_llm_entropy.text.unknown_symbols`): file, line,
  utterance and symbols;
* more than ``max_skipped_fraction`` of the utterances left out (likely a
  wrong sampling rate, inventory or option rather than a few bad files).

Utterances left out, counted and logged in one warning (and, for the
training set, in one summary line per epoch):

* unreadable symbols under the policy ``skip``;
* a transcript that gives no phones at all (all punctuation or unreadable
  symbols): an empty CTC target is never trained on;
* too short for the encoder: fewer than ``min_encoder_frames`` output
  frames (shorter than the subsampling needs), or, with ``ctc_feasible``,
  fewer frames than CTC needs to align the phone target (its length plus
  one blank between each pair of repeated phones).

The minimum duration is therefore derived from the encoder's own
subsampling (measured with :class:`~espnet_llm_entropy.tasks.encoder_frames.EncoderFrameCounter`)
and each utterance's target; asr.sh stage 4's ``--min_wav_duration`` /
``--max_wav_duration`` filter is the coarse, target-blind filter that runs
before it (see ``espnet_llm_entropy/train/README.md``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from espnet2.iterators.abs_iter_factory import AbsIterFactory

from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.fileio.kaldi_map import KaldiFileError, iter_raw_lines
from espnet_llm_entropy.text.unknown_symbols import (
    UnknownSymbolsError,
    UnknownSymbolTally,
    read_transcript,
    reader_with_policy,
)

#: ESPnet data types whose second column is a path or command that must not be empty
AUDIO_TYPES = ("sound", "kaldi_ark", "npy", "multi_columns_sound", "variable_columns_sound", "pipe_wav")
MAX_LISTED = 10
OPTION = "--utterance_check_conf"


@dataclass(frozen=True)
class UtteranceCheckConfig:
    """``--utterance_check_conf``.

    Attributes:
        enabled: run the check (false: ESPnet's behaviour, every listed
            utterance is batched; the preprocessor still refuses empty
            targets and, by default, unreadable symbols).
        ctc_feasible: leave out utterances whose encoder output is shorter
            than CTC needs for their phone target (target length plus
            repeats).
        min_encoder_frames: leave out utterances whose encoder output has
            fewer frames than this (at least 1: the subsampling's minimum).
        max_skipped_fraction: stop with an error when more than this share
            of a set is left out.
    """

    enabled: bool = True
    ctc_feasible: bool = True
    min_encoder_frames: int = 1
    max_skipped_fraction: float = 0.5

    @classmethod
    def from_dict(cls, conf: Optional[Mapping]) -> "UtteranceCheckConfig":
        out = dataclass_from_mapping(cls, conf, OPTION)
        if int(out.min_encoder_frames) < 1:
            raise ValueError(f"{OPTION} min_encoder_frames must be >= 1, got {out.min_encoder_frames}")
        if not 0.0 <= float(out.max_skipped_fraction) <= 1.0:
            raise ValueError(f"{OPTION} max_skipped_fraction must be in [0, 1], got {out.max_skipped_fraction}")
        return out


class UtteranceCheckError(ValueError):
    """The data of a training run has errors; nothing was trained."""

    def __init__(self, what: str, problems: List[str]):
        self.problems = problems
        more = f" (first {MAX_LISTED} shown)" if len(problems) > MAX_LISTED else ""
        super().__init__(f"{what}: {len(problems)} problem(s){more}:\n" + "\n".join(problems[:MAX_LISTED]))


@dataclass
class UtteranceCheckResult:
    """What the check kept and why it left utterances out.

    Attributes:
        kept: utterance ids to batch, in shape-file order.
        skipped: id -> reason, for every utterance left out.
        unknown: what the unknown-symbol policy did.
        mode: ``train`` or ``valid``.
    """

    kept: List[str]
    skipped: Dict[str, str]
    unknown: UnknownSymbolTally
    mode: str
    reasons: Dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: how many were kept, left out and why, and what the policy did."""
        total = len(self.kept) + len(self.skipped)
        line = f"[{self.mode}] utterance check: {len(self.kept)} of {total} utterances used"
        if self.skipped:
            examples = list(self.skipped.items())[:3]
            line += (f", {len(self.skipped)} left out ({', '.join(f'{n} {r}' for r, n in self.reasons.items())};"
                     f" e.g. {'; '.join(f'{u}: {why}' for u, why in examples)})")
        unknown = self.unknown.summary()
        return line + (f"; {unknown}" if unknown else "")


def read_shape_lengths(shape_file: Path) -> Tuple[List[str], Dict[str, int]]:
    """Keys in order and the first dimension of each shape (samples or frames) of an ESPnet shape file.

    Values that are not numbers (a plain key list such as ``utt2spk``) give
    no lengths.
    """
    keys: List[str] = []
    lengths: Dict[str, int] = {}
    with open(shape_file, encoding="utf-8") as stream:
        for line in stream:
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            keys.append(parts[0])
            if len(parts) == 2:
                try:
                    lengths[parts[0]] = int(parts[1].split(",")[0])
                except ValueError:
                    pass
    return keys, lengths


def check_audio_lists(data_files: Sequence[Tuple[str, str, str]], wanted: set) -> List[str]:
    """``file:line: ...`` for every line of an audio list with an id and no path."""
    problems = []
    for path, name, kind in data_files:
        if kind not in AUDIO_TYPES:
            continue
        with open(path, encoding="utf-8", errors="replace") as stream:
            for number, line in enumerate(stream, start=1):
                parts = line.split(maxsplit=1)
                if len(parts) == 1 and parts[0] in wanted:
                    problems.append(
                        f"{path}:{number}: utterance {parts[0]!r} has no audio path; expected "
                        f"'<utt-id> <path or command |>' ('{name}' data of type {kind})"
                    )
    return problems


def _read_transcripts(path: str, wanted: set, problems: List[str]) -> Dict[str, Tuple[int, str]]:
    """id -> (line number, transcript) of a Kaldi text file; undecodable lines go to ``problems``."""
    out: Dict[str, Tuple[int, str]] = {}
    for number, line in iter_raw_lines(path):
        if isinstance(line, KaldiFileError):
            problems.append(str(line))
            continue
        parts = line.split(maxsplit=1)
        if parts and parts[0] in wanted:
            out[parts[0]] = (number, parts[1] if len(parts) == 2 else "")
    return out


def ctc_frames_needed(ids: Sequence[int]) -> int:
    """Frames CTC needs to align ``ids``: one per label plus one blank between equal neighbours."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def check_utterances(
    conf: UtteranceCheckConfig,
    keys: Sequence[str],
    lengths: Mapping[str, int],
    data_files: Sequence[Tuple[str, str, str]],
    phonemizer_conf: Optional[Mapping],
    inventory,
    frame_counter=None,
    mode: str = "train",
    text_name: str = "text",
) -> UtteranceCheckResult:
    """Decide which of ``keys`` a run uses (rules in the module docstring).

    Args:
        conf: the options.
        keys: utterance ids in shape-file order.
        lengths: input length (samples, or frames for feature input) per id;
            ids without one are not checked for duration.
        data_files: ESPnet's ``(path, name, type)`` triples of the set.
        phonemizer_conf: ``--phonemizer_conf`` (reader and ``on_unknown`` policy).
        inventory: the phone inventory (``encode(units) -> ids``).
        frame_counter: an :class:`EncoderFrameCounter` (None: no duration check).
        mode: ``train`` or ``valid`` (in messages).
        text_name: the name of the transcript data.

    Raises:
        UtteranceCheckError: the errors of the module docstring.
    """
    wanted = set(keys)
    problems = check_audio_lists(data_files, wanted)
    texts = [path for path, name, kind in data_files if name == text_name and kind == "text"]
    transcripts = _read_transcripts(texts[0], wanted, problems) if texts else {}
    reader, policy = reader_with_policy(phonemizer_conf)
    tally = UnknownSymbolTally(policy)
    kept: List[str] = []
    skipped: Dict[str, str] = {}
    reasons: Dict[str, int] = {}

    def leave_out(utt: str, reason: str, detail: str) -> None:
        skipped[utt] = detail
        reasons[reason] = reasons.get(reason, 0) + 1

    for utt in keys:
        ids = None
        if texts:
            if utt not in transcripts:
                continue  # ESPnet's dataset reports an id missing from a data file itself
            number, transcript = transcripts[utt]
            try:
                read = read_transcript(reader, policy, utt, transcript, f"{texts[0]}:{number}",
                                       option="--phonemizer_conf on_unknown")
            except UnknownSymbolsError as err:
                problems.append(str(err))
                continue
            tally.add(utt, read)
            if read.skipped:
                leave_out(utt, "with unreadable symbols", f"unreadable symbols {sorted(set(read.unknown))[:5]}")
                continue
            if not read.units:
                leave_out(utt, "without phones", f"transcript {transcript[:40]!r} gives no phones")
                continue
            ids = inventory.encode(read.units)
        if frame_counter is not None and utt in lengths:
            need = max(conf.min_encoder_frames, ctc_frames_needed(ids) if conf.ctc_feasible and ids else 0)
            if not frame_counter.at_least(lengths[utt], need):
                frames = frame_counter.frames(lengths[utt])
                target = f"its {len(ids)}-phone CTC target needs {need}" if ids and conf.ctc_feasible else \
                    f"at least {need} needed"
                leave_out(utt, "too short", f"{lengths[utt]} input samples/frames give {frames} encoder "
                          f"frames, {target}")
                continue
        kept.append(utt)
    if problems:
        raise UtteranceCheckError(f"[{mode}] the data of this run", problems)
    result = UtteranceCheckResult(kept, skipped, tally, mode, reasons)
    total = len(kept) + len(skipped)
    if total and len(skipped) > conf.max_skipped_fraction * total:
        raise UtteranceCheckError(f"[{mode}] the data of this run", [
            f"{len(skipped)} of {total} utterances would be left out, more than {OPTION} "
            f"max_skipped_fraction={conf.max_skipped_fraction} ({result.summary()}); check the sampling "
            "rate, the phone inventory and --phonemizer_conf, or raise max_skipped_fraction"])
    if not kept:
        raise UtteranceCheckError(f"[{mode}] the data of this run", [f"no utterance left to train on ({result.summary()})"])
    if skipped or tally.utterances:
        logging.warning("%s", result.summary())
    else:
        logging.info("%s", result.summary())
    return result


class CheckedIterFactory(AbsIterFactory):
    """An ESPnet iterator factory that logs the utterance check's summary at the start of each epoch."""

    def __init__(self, inner: AbsIterFactory, result: UtteranceCheckResult):
        self.inner = inner
        self.result = result

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None):
        if self.result.skipped or self.result.unknown.utterances:
            logging.warning("epoch %d: %s", epoch, self.result.summary())
        return self.inner.build_iter(epoch, shuffle)


def _speech_shape_file(shape_files: Sequence[str], speech_name: str = "speech") -> Optional[str]:
    """The shape file of the speech input (named ``<speech_name>_shape*``; else the first one)."""
    for path in shape_files:
        if Path(path).name.startswith(f"{speech_name}_shape"):
            return path
    return shape_files[0] if shape_files else None


def build_checked_iter_factory(build, args, iter_options, mode: str, speech_encoder=None):
    """ESPnet's sequence iterator factory over the utterances :func:`check_utterances` keeps.

    Args:
        build: ``iter_options -> iterator factory`` (ESPnet's own
            ``build_sequence_iter_factory``).
        args: the task's arguments (``utterance_check_conf``,
            ``phonemizer_conf``, ``token_list``, ``input_size``).
        iter_options: ESPnet's ``IteratorOptions`` of the set.
        mode: ``train``, ``valid`` or ``plot_att``.
        speech_encoder: the model's speech encoder (None: no duration check).

    The kept keys reach ESPnet's batch sampler as filtered copies of the
    shape files in a temporary directory (removed once the batches exist),
    so every rank builds the same batches from the same utterances.
    """
    import dataclasses
    import tempfile

    conf = UtteranceCheckConfig.from_dict(getattr(args, "utterance_check_conf", None))
    if not conf.enabled or mode not in ("train", "valid") or not getattr(args, "use_preprocessor", True) \
            or not iter_options.shape_files:
        return build(iter_options)
    from espnet_llm_entropy.tasks.encoder_frames import EncoderFrameCounter
    from espnet_llm_entropy.text.phone_inventory import PhoneInventory

    keys, lengths = read_shape_lengths(Path(_speech_shape_file(iter_options.shape_files)))
    token_list = args.token_list
    inventory = PhoneInventory.from_file(token_list) if isinstance(token_list, str) else PhoneInventory(list(token_list))
    counter = None
    if speech_encoder is not None and lengths:
        feature_dim = None if getattr(speech_encoder, "frontend", None) is not None else args.input_size
        counter = EncoderFrameCounter(speech_encoder, feature_dim)
    elif not lengths:
        logging.info("[%s] utterance check: %s has no lengths; durations are not checked", mode,
                     _speech_shape_file(iter_options.shape_files))
    result = check_utterances(conf, keys, lengths, iter_options.data_path_and_name_and_type,
                              getattr(args, "phonemizer_conf", None), inventory, counter, mode)
    if not result.skipped:
        return CheckedIterFactory(build(iter_options), result)
    kept = set(result.kept)
    with tempfile.TemporaryDirectory(prefix="utterance_check_") as tmp:
        filtered = []
        for index, path in enumerate(iter_options.shape_files):
            target = Path(tmp) / f"{index}_{Path(path).name}"
            with open(path, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as dst:
                dst.writelines(line for line in src if line.split(maxsplit=1)[:1] and line.split()[0] in kept)
            filtered.append(str(target))
        factory = build(dataclasses.replace(iter_options, shape_files=filtered))
    return CheckedIterFactory(factory, result)
