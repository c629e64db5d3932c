"""Options and result summary of the bilingual mini corpus builder."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from espnet_llm_entropy.corpus.sentence_templates import LANGUAGES

SPEECH_SPLITS = ("train", "dev", "test")
SPLIT_ORDER = SPEECH_SPLITS + ("nonspeech", "nonspeech_dev", "an4")
AN4_ARCHIVE_NAME = "downloads.tar.gz"
# bump when a code change alters the generated corpus (templates, levels ...),
# so that an existing corpus built by older code is not reused
GENERATOR_VERSION = 2  # 2: tones, clicks, babble, 30 s silence; nonspeech_dev


def default_num_jobs() -> int:
    """Parallel espeak-ng processes: twice the CPU count, at most 8.

    A job's thread waits on its espeak-ng child, then runs Python (resampling, mixing,
    writing) under the GIL, so one job per core leaves the cores idle part of the time:
    1,000 utterances on 2 cores took 18.5 s with 2 jobs, 16.2 s with 3 and 15.5 s with 4.
    """
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class MiniCorpusConfig:
    """What to generate. All fields but ``nj`` determine the output bytes.

    Attributes:
        seed: random seed; the same seed (and espeak-ng version) gives the
            same files, byte for byte.
        num_train: utterances in train.
        num_dev: utterances in dev.
        num_test: utterances in test.
        languages: any of "zh" (Mandarin), "en" (English), "cs" (Mandarin
            with English words); utterances are spread evenly over them.
        num_speakers: synthetic speakers in all.
        num_heldout_speakers: speakers never used in train; they alternate
            between test (first, third, ...) and dev. The other speakers
            appear in every split.
        an4_dir: directory holding ESPnet's mini_an4 ``downloads.tar.gz``;
            when given, the real AN4 speech (``an4/``) and noise recordings
            are added. None: no AN4 data.
        nj: parallel espeak-ng jobs (does not change the output).
    """

    seed: int = 0
    num_train: int = 600
    num_dev: int = 60
    num_test: int = 60
    languages: Tuple[str, ...] = LANGUAGES
    num_speakers: int = 10
    num_heldout_speakers: int = 2
    an4_dir: Optional[str] = None
    nj: int = field(default_factory=default_num_jobs)

    def validate(self) -> None:
        """Raise ValueError naming the option (and its CLI flag) that is wrong."""

        def need(ok: bool, name: str, expected: str, value) -> None:
            if not ok:
                raise ValueError(f"{name} (--{name}): expected {expected}, got {value!r}")

        def is_int(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        need(is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0", self.seed)
        for name in ("num_train", "num_dev", "num_test"):
            value = getattr(self, name)
            need(is_int(value) and 1 <= value <= 100000, name, "an integer in 1..100000", value)
        langs = tuple(self.languages)
        need(
            len(langs) > 0 and len(set(langs)) == len(langs) and set(langs) <= set(LANGUAGES),
            "languages", f"distinct values among {','.join(LANGUAGES)}", ",".join(map(str, langs)),
        )
        need(is_int(self.num_speakers) and 1 <= self.num_speakers <= 99,
             "num_speakers", "an integer in 1..99", self.num_speakers)
        need(
            is_int(self.num_heldout_speakers) and 0 <= self.num_heldout_speakers < self.num_speakers,
            "num_heldout_speakers", f"an integer in 0..num_speakers-1 ({self.num_speakers - 1})",
            self.num_heldout_speakers,
        )
        need(is_int(self.nj) and self.nj >= 1, "nj", "an integer >= 1", self.nj)
        if self.an4_dir is not None:
            archive = Path(self.an4_dir) / AN4_ARCHIVE_NAME
            need(archive.is_file(), "an4_dir",
                 f"a directory containing {AN4_ARCHIVE_NAME} ({archive} does not exist)",
                 str(self.an4_dir))

    def output_options(self) -> Dict[str, object]:
        """The options that determine the output (for the manifest)."""
        options = asdict(self)
        options.pop("nj")
        options["generator_version"] = GENERATOR_VERSION
        options["languages"] = list(self.languages)
        if self.an4_dir is not None:
            options["an4_dir"] = str(Path(self.an4_dir).resolve())
        return options


@dataclass
class SplitSummary:
    """One written data directory.

    Attributes:
        name: "train", "dev", "test", "nonspeech", "nonspeech_dev" or "an4".
        data_dir: absolute path of the Kaldi data directory.
        num_utts: number of utterances.
        total_duration_s: summed duration.
        min_duration_s: shortest utterance.
        max_duration_s: longest utterance.
        speakers: speaker ids, sorted.
        languages: {language: utterance count} ("none" for non-speech,
            "en" for AN4).
    """

    name: str
    data_dir: str
    num_utts: int
    total_duration_s: float
    min_duration_s: float
    max_duration_s: float
    speakers: List[str]
    languages: Dict[str, int]


@dataclass
class CorpusSummary:
    """What :func:`build_mini_corpus` wrote (also stored as the manifest).

    Attributes:
        out_dir: absolute output directory.
        options: :meth:`MiniCorpusConfig.output_options`.
        espeak_version: the synthesizer that made the audio.
        splits: {name: SplitSummary}.
        noise_scp: absolute path of the noise list for augmentation.
        num_noises: entries in noise.scp.
        heldout_speakers: {"dev": [...], "test": [...]} speakers absent from train.
        elapsed_s: wall time of the build (of the original build if reused).
        reused: True when an existing complete corpus was returned as is.
    """

    out_dir: str
    options: Dict[str, object]
    espeak_version: str
    splits: Dict[str, SplitSummary]
    noise_scp: str
    num_noises: int
    heldout_speakers: Dict[str, List[str]]
    elapsed_s: float
    reused: bool = False

    def data_dir(self, name: str) -> Path:
        """Path of a data directory, e.g. ``summary.data_dir("train")``."""
        if name not in self.splits:
            raise KeyError(f"no data directory {name!r}; have {sorted(self.splits)}")
        return Path(self.splits[name].data_dir)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "CorpusSummary":
        data = json.loads(text)
        order = {name: i for i, name in enumerate(SPLIT_ORDER)}
        names = sorted(data["splits"], key=lambda n: (order.get(n, len(order)), n))
        data["splits"] = {k: SplitSummary(**data["splits"][k]) for k in names}
        return cls(**data)
