"""The one-command demo: the whole method on the bundled mini corpus, on a CPU.

Steps (each resumable: a finished step leaves a marker and is skipped when
the demo runs again in the same directory):

1. ``corpus``   bilingual espeak-ng corpus + non-speech + AN4 sets
2. ``phones``   phone transcripts and the phone inventory (``text_to_phones``)
3. ``stats``    ESPnet statistics / shape files (asr.sh stage 10)
4. ``train``    the LLM (a tokenizer and a small causal LM pretrained on
                the training text and template sentences), then
                pretraining, alignment and IA-SFT with hot-swaps (asr.sh
                stage 11); by default in lockstep mode: the LLM is built
                beside pretraining, and alignment and IA-SFT run beside
                it, one CPU thread each, with the swaps replay mode
                gives; the error diagnosis's LLM side runs once the LLM
                is built (while alignment waits for encoder v1), its
                speech side once pretraining has finished
                (:mod:`~espnet_llm_entropy.pipeline.after_pretraining`;
                in replay mode after the training): where the error comes
                from, the encoder's phone error rate, the LLM side on a
                perfect encoder, the LLM's perplexity (the full model's
                figure comes from ``joint_sft``'s scores)
5. ``final_stages``: two independent jobs at the same time, one CPU
                thread each (:data:`ONE_THREAD`):

   * ``joint_sft``  the last training stage; then the CTC-evidence gate's
     threshold chosen on dev speech and dev non-speech; test, non-speech
     (and AN4) sets decoded with the gate (asr.sh stage 12), test and
     non-speech also without it; CER/WER per language + hallucination
     tables (stage 13);
   * ``robustness`` joint SFT again with silence/noise augmentation and
     non-speech examples (from the same IA-SFT model), its gate calibrated,
     decoded and scored, so the report compares hallucination with and
     without them.

6. ``curves``   learning curves: dev PER of pretraining, dev token accuracy
                of the LLM stages, per update step
7. ``analyze``  entropy-allocation metrics and plots
8. ``pack``     the final model in ESPnet's format
9. ``report``  ``RESULTS.md``

The jobs of ``final_stages`` are independent and mostly small-tensor
training, which two CPU threads speed up by only about a quarter: two
single-threaded processes side by side finish sooner than the same work
one after the other on both threads. Each job has its own marker, so a
rerun redoes only the unfinished ones.

Every training is one of the entry points a recipe runs (``llm_asr_train``,
``train_method``), launched as a subprocess with its log in the experiment
directory, like asr.sh does; every model's gate calibration and decodings
(``calibrate_ctc_gate`` + ``llm_asr_inference``) run in one
``decode_with_gate`` subprocess, so ESPnet is imported once per model.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from espnet_llm_entropy.analysis.error_diagnosis import PARTS as DIAGNOSIS_PARTS
from espnet_llm_entropy.conf import preset_dir, stage_config_name
from espnet_llm_entropy.corpus.an4_archive import ARCHIVE_NAME as AN4_ARCHIVE
from espnet_llm_entropy.fileio.atomic import write_text_atomic
from espnet_llm_entropy.llm.template_lm import TemplateLMConfig
from espnet_llm_entropy.machine_info import cpu_time_counters, stolen_percent
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.pipeline.after_pretraining import JobAfterPretraining, JobWhenReady
from espnet_llm_entropy.train.hot_swap import CONCURRENT_MODES
from espnet_llm_entropy.train.stage_schedule import STAGES

CONF_DIR = preset_dir("tiny")
# stages the ``train`` step runs, which the robustness retraining shares with the main run
SHARED_STAGES = ("pretrain", "align", "ia_sft")
#: The error diagnosis: parts of ``train`` (``timings.json``: ``train/diagnose_<side>``; markers
#: ``.done/train.diagnose_<side>``), one per side (:data:`~espnet_llm_entropy.analysis.error_diagnosis.PARTS`).
DIAGNOSE = "diagnose"
#: The pack of the final model (ESPnet's format, base LLM inside), relative to the demo folder.
PACK_FILE = "pack/joint_sft.zip"
# log lines echoed to the console while a step runs
PROGRESS_LINES = r"epoch results|published encoder|hot swap: step|waits for pretraining|Error"
#: Where ESPnet keeps the mini_an4 archive, relative to an ESPnet checkout ($ESPNET_ROOT).
ESPNET_AN4_DIR = Path("egs2") / "mini_an4" / "asr1"
#: ``--an4_dir`` value that leaves AN4 out even when ESPnet's copy is found.
NO_AN4 = "none"
#: Training utterances of the bundled corpus the demo (and the paradigm comparison) builds.
DEFAULT_NUM_TRAIN = 10000
#: Environment changes of the processes a :class:`ParallelSteps` group starts: one CPU thread each.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: Separator of a group's name and its member's in ``timings.json`` (``final_stages/joint_sft``);
#: a member's marker is ``.done/<group>.<member>``.
MEMBER_SEP = "/"


@dataclass(frozen=True)
class ParallelSteps:
    """Demo steps that do not depend on each other, run at the same time.

    Each member runs in its own thread of the demo process, which only waits
    on the member's subprocesses; those get :data:`ONE_THREAD`. A member that
    fails lets the others finish, then the group raises naming it.

    Attributes:
        members: (name, function) of each member.
        then: run once every member has finished (joins their outputs).
    """

    members: Tuple[Tuple[str, Callable[[], None]], ...]
    then: Optional[Callable[[], None]] = None


def default_an4_dir(environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """ESPnet's copy of the mini_an4 archive: ``$ESPNET_ROOT/egs2/mini_an4/asr1`` when it holds
    ``downloads.tar.gz``, else None."""
    environ = os.environ if environ is None else environ
    root = environ.get("ESPNET_ROOT")
    if root and (Path(root) / ESPNET_AN4_DIR / AN4_ARCHIVE).is_file():
        return (Path(root) / ESPNET_AN4_DIR).resolve()
    return None


def resolve_an4_dir(value: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The AN4 directory the demo uses for ``--an4_dir value`` (None: no AN4 part, with a log line).

    ``value`` None looks for ESPnet's copy (:func:`default_an4_dir`);
    ``none`` leaves AN4 out; a directory must hold ``downloads.tar.gz``.

    Raises:
        FileNotFoundError: a given directory without the archive.
    """
    if value is not None and str(value).lower() == NO_AN4:
        logging.warning("AN4: left out (--an4_dir none); the demo decodes no real speech")
        return None
    if value is None:
        found = default_an4_dir(environ)
        if found is None:
            logging.warning("AN4: no --an4_dir and no $ESPNET_ROOT/%s/%s; the AN4 part is skipped",
                            ESPNET_AN4_DIR, AN4_ARCHIVE)
        return found
    path = Path(value)
    if not (path / AN4_ARCHIVE).is_file():
        raise FileNotFoundError(f"--an4_dir {value}: no {AN4_ARCHIVE} in it (ESPnet's mini_an4 archive, "
                                f"e.g. $ESPNET_ROOT/{ESPNET_AN4_DIR})")
    return path.resolve()


@dataclass
class DemoConfig:
    """Options of the demo (``python -m espnet_llm_entropy.bin.demo --help``)."""

    out_dir: Path
    seed: int = 0
    num_train: int = DEFAULT_NUM_TRAIN
    num_dev: int = 60
    num_test: int = 60
    an4_dir: Optional[Path] = None
    num_speakers: int = 20
    llm_hidden_size: int = TemplateLMConfig.hidden_size
    llm_layers: int = TemplateLMConfig.num_layers
    llm_vocab_size: int = TemplateLMConfig.vocab_size
    llm_pretrain_steps: int = TemplateLMConfig.steps
    llm_template_sentences: int = TemplateLMConfig.template_sentences
    oracle_steps: int = 800
    epochs: Dict[str, int] = field(default_factory=dict)
    train_mode: str = "lockstep"
    conf_dir: Path = CONF_DIR
    decode_batch_size: int = 16
    analysis_max_utts: int = 60
    augmentation_prob: float = 0.2
    nonspeech_prob: float = 0.05
    grpo_updates: int = 0
    grpo_iters_per_epoch: int = 50
    grpo_seeds: List[int] = field(default_factory=lambda: [0])

    def __post_init__(self):
        self.out_dir = Path(self.out_dir).resolve()
        self.conf_dir = Path(self.conf_dir)


class Demo:
    """Runs the demo's steps in order, skipping finished ones."""

    def __init__(self, conf: DemoConfig):
        self.conf = conf
        self.root = conf.out_dir
        self.data = self.root / "data"
        self.exp = self.root / "exp"
        self.steps: List[tuple] = [
            ("corpus", self.make_corpus),
            ("phones", self.make_phones),
            ("stats", self.collect_stats),
            ("train", self.train),
            ("final_stages", ParallelSteps((
                ("joint_sft", self.joint_sft), ("robustness", self.robustness),
            ), then=self.add_full_model_to_diagnosis)),
            ("curves", self.learning_curves),
            ("analyze", self.analyze),
            ("pack", self.pack),
            ("report", self.report),
        ]
        if conf.grpo_updates > 0:  # opt-in: GRPO vs continued SFT after the demo's joint SFT
            # named by its settings: other updates or seeds are another step (finished arms are reused)
            seeds = "-".join(str(s) for s in conf.grpo_seeds)
            self.steps.insert(len(self.steps) - 1, (f"grpo-{conf.grpo_updates}-seeds-{seeds}", self.grpo))
        self.timings: Dict[str, float] = {}
        # percent of each step's CPU time the host gave to other guests (virtual machines only)
        self.cpu_steal: Dict[str, float] = {}
        # per thread: the environment and console tag of a parallel member's subprocesses
        self._member = threading.local()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- driver
    def run(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        done_dir = self.root / ".done"
        done_dir.mkdir(exist_ok=True)
        for attr, name in (("timings", "timings.json"), ("cpu_steal", "cpu_steal.json")):
            if (self.root / name).exists():
                setattr(self, attr, json.loads((self.root / name).read_text()))
        total = len(self.steps)
        for i, (name, fn) in enumerate(self.steps, 1):
            marker = done_dir / name
            if marker.exists():
                print(f"[demo {i}/{total}] {name}: already done", flush=True)
                continue
            print(f"[demo {i}/{total}] {name} ...", flush=True)
            start, counters = time.time(), cpu_time_counters()
            if isinstance(fn, ParallelSteps):
                self._run_parallel(name, fn, done_dir)
            else:
                fn()
            self._record(name, time.time() - start, counters)
            marker.touch()
            print(f"[demo {i}/{total}] {name} done in {self.timings[name]:.0f} s", flush=True)
        return self.root / "RESULTS.md"

    def _record(self, name: str, seconds: float, counters) -> None:
        """Wall time (and stolen CPU share) of a step or a group member into the json files."""
        with self._lock:
            self.timings[name] = round(seconds, 1)
            write_text_atomic(self.root / "timings.json", json.dumps(self.timings, indent=1))
            stolen = None if counters is None else stolen_percent(counters, cpu_time_counters())
            if stolen is not None:
                self.cpu_steal[name] = round(stolen, 1)
                write_text_atomic(self.root / "cpu_steal.json", json.dumps(self.cpu_steal, indent=1))

    def _run_parallel(self, group: str, steps: ParallelSteps, done_dir: Path) -> None:
        """The unfinished members of ``steps`` at the same time (see :class:`ParallelSteps`)."""
        def marker(name: str) -> Path:
            return done_dir / f"{group}.{name}"

        todo = [(n, f) for n, f in steps.members if not marker(n).exists()]
        for name, _ in steps.members:
            if marker(name).exists():
                print(f"    [{name}] already done", flush=True)

        failed = []
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            futures = {name: pool.submit(self._run_member, group, name, fn, marker(name)) for name, fn in todo}
        for name, future in futures.items():
            if future.exception() is not None:
                logging.error("%s: %s failed: %s", group, name, future.exception())
                failed.append((name, future.exception()))
        if failed:
            names = ", ".join(n for n, _ in failed)
            raise RuntimeError(f"{group}: {names} failed (the other members finished); "
                               f"first error: {failed[0][1]}") from failed[0][1]
        if steps.then is not None:
            steps.then()

    def _run_member(self, group: str, name: str, fn: Callable[[], None], marker: Path) -> None:
        """One member of ``group`` in this thread: its subprocesses on :data:`ONE_THREAD`, its wall
        time recorded as ``<group>/<name>``, ``marker`` touched when it has finished."""
        self._member.env = {**os.environ, **ONE_THREAD}
        self._member.tag = name
        start, counters = time.time(), cpu_time_counters()
        print(f"    [{name}] started", flush=True)
        fn()
        self._record(f"{group}{MEMBER_SEP}{name}", time.time() - start, counters)
        marker.touch()
        print(f"    [{name}] done in {time.time() - start:.0f} s", flush=True)

    def _run(self, module: str, args: List, log: Path) -> None:
        """``module`` as a subprocess, its log in ``log`` (in a parallel member: one CPU thread)."""
        tag = getattr(self._member, "tag", None)
        print(f"    {f'[{tag}] ' if tag else ''}log: {log}", flush=True)
        espnet_steps.run_entry_point(module, args, in_process=False, log_file=log, echo=PROGRESS_LINES,
                                     env=getattr(self._member, "env", None), echo_tag=tag)

    # ------------------------------------------------------------------ steps
    def make_corpus(self) -> None:
        from espnet_llm_entropy.corpus.corpus_config import MiniCorpusConfig
        from espnet_llm_entropy.corpus.mini_corpus_builder import build_mini_corpus

        c = self.conf
        build_mini_corpus(
            self.data,
            MiniCorpusConfig(
                seed=c.seed, num_train=c.num_train, num_dev=c.num_dev, num_test=c.num_test,
                num_speakers=c.num_speakers, an4_dir=str(c.an4_dir) if c.an4_dir else None,
            ),
        )

    def make_phones(self) -> None:
        espnet_steps.run_entry_point(
            "text_to_phones",
            ["--in", self.data / "train" / "text", "--out", self.root / "train.phn",
             "--inventory", self.root / "phones.txt"],
        )

    def make_llm(self) -> None:
        """The corpus-matched LLM alone (the demo builds it in ``train``; the paradigm comparison here)."""
        self._run("make_tiny_llm", self.llm_args(), self.root / "llm.log")

    def llm_args(self) -> List:
        """``make_tiny_llm`` options of the corpus-matched LLM (the mini recipe's stage 1 builds the same)."""
        c = self.conf
        return ["--text", self.data / "train" / "text", "--heldout_text", self.data / "dev" / "text",
                self.data / "test" / "text", "--out_dir", self.root / "llm", "--vocab_size", c.llm_vocab_size,
                "--hidden_size", c.llm_hidden_size, "--num_layers", c.llm_layers, "--template_sentences",
                c.llm_template_sentences, "--steps", c.llm_pretrain_steps, "--seed", c.seed]

    def collect_stats(self) -> None:
        espnet_steps.collect_stats(
            self.conf.conf_dir / "pretrain_phoneme_ctc.yaml", self.root / "phones.txt",
            self.data / "train", self.data / "dev", self.root / "stats", in_process=True,
        )

    def _method_args(self, exp_dir: Path, extra_args: Dict[str, str]) -> List:
        args = [
            "--exp_dir", exp_dir, "--token_list", self.root / "phones.txt",
            "--stats_dir", self.root / "stats", "--train_dir", self.data / "train",
            "--valid_dir", self.data / "dev", "--llm_dir", self.root / "llm", "--mode", self.conf.train_mode,
        ]
        for stage in STAGES:
            args += [f"--{stage}_config", self.conf.conf_dir / stage_config_name(stage)]
            opts = extra_args.get(stage, "")
            if stage in self.conf.epochs:
                opts += f" --max_epoch {self.conf.epochs[stage]} --num_iters_per_epoch none"
            if opts.strip():
                args += [f"--{stage}_args", opts.strip()]
        return args

    def train(self) -> None:
        """The LLM, pretraining, alignment and IA-SFT (joint SFT is a member of ``final_stages``).

        In the concurrent modes (lockstep, live) the LLM is built on one CPU thread while
        pretraining runs on the other towards encoder v1; alignment, the first stage that loads
        the LLM, waits for it (``train_method --llm_builder_pid``). In replay mode it is built first.
        """
        extra = {"pretrain": f"--nonspeech_examples_conf noise_scp={self.data / 'noise.scp'}"}
        args = self._method_args(self.exp, extra) + ["--stages", *SHARED_STAGES]
        markers = {part: self.root / ".done" / f"train.{DIAGNOSE}_{part}" for part in DIAGNOSIS_PARTS}
        jobs = []
        if self.conf.train_mode in CONCURRENT_MODES:
            jobs = self._diagnosis_jobs(args, markers)
        llm_log, builder = self.root / "llm.log", None
        if not (self.root / "llm" / "config.json").is_file():
            if self.conf.train_mode in CONCURRENT_MODES:
                builder = espnet_steps.start_entry_point("make_tiny_llm", self.llm_args(), llm_log,
                                                         env={**os.environ, **ONE_THREAD})
                args += ["--llm_builder_pid", builder.pid]
                print(f"    LLM: built beside pretraining (log: {llm_log})", flush=True)
            else:
                self.make_llm()
        trained = False
        try:
            self._run("train_method", args, self.exp / "train_method.log")
            trained = True
        finally:
            for job in jobs:
                job.training_ended(trained)
            if builder is not None:
                if not trained and builder.poll() is None:
                    builder.terminate()  # the training failed (its error says why); the LLM is not needed now
                if builder.wait() != 0 and trained:
                    raise RuntimeError(f"building the LLM failed ({builder.returncode}); see {llm_log}")
        report = self.root / "llm" / "lm_report.json"
        if report.is_file():
            self._record(f"train{MEMBER_SEP}llm", json.loads(report.read_text())["elapsed_s"], None)
        for job in jobs:
            job.join()
        for part, marker in markers.items():  # replay mode: after the training, on every thread
            if not marker.exists():
                start = time.time()
                self.diagnose(part, sft_args=None)
                self._record(f"train{MEMBER_SEP}{DIAGNOSE}_{part}", time.time() - start, None)
                marker.touch()

    def _diagnosis_jobs(self, method_args: List, markers: Dict[str, Path]) -> list:
        """The concurrent modes: the diagnosis's LLM side as soon as the LLM is built (on the thread
        that waits for encoder v1), its speech side once pretraining has finished (IA-SFT takes both
        threads after the final swap, so this short part shares them for a while)."""
        from espnet_llm_entropy.train.method_cli import stage_training_args

        jobs = []
        if not markers["llm"].exists():
            sft_args = stage_training_args(method_args, "ia_sft")
            llm_ready = self.root / "llm" / "config.json"
            jobs.append(JobWhenReady(
                lambda: self._run_member("train", f"{DIAGNOSE}_llm", lambda: self.diagnose("llm", sft_args),
                                         markers["llm"]),
                lambda ended: llm_ready.is_file(), f"the LLM ({llm_ready})").start())
            print("    diagnosis: its LLM side starts once the LLM is built", flush=True)
        if not markers["encoder"].exists():
            jobs.append(JobAfterPretraining(
                lambda: self._run_member("train", f"{DIAGNOSE}_encoder", lambda: self.diagnose("encoder"),
                                         markers["encoder"]),
                self.exp / "pretrain" / "encoder_versions").start())
            print("    diagnosis: its speech side starts once pretraining has finished", flush=True)
        return jobs

    def joint_sft(self) -> None:
        """Joint SFT from the IA-SFT model, then its gate calibration, decodings and scores."""
        self._run("train_method", self._method_args(self.exp, {}) + ["--stages", "joint_sft"],
                  self.exp / "train_method_joint_sft.log")
        self.decode()
        self.score()

    def final_model(self, exp: Optional[Path] = None, stage: str = "joint_sft") -> tuple:
        """(exp dir, checkpoint) of ``stage`` (default: the last stage, joint SFT, best by accuracy)."""
        exp_dir = (exp or self.exp) / stage
        return exp_dir, espnet_steps.decoding_checkpoint(exp_dir)

    def test_sets(self) -> List[str]:
        return [s for s in ("test", "nonspeech", "an4") if (self.data / s / "wav.scp").exists()]

    def decode(self, exp: Optional[Path] = None, out_root: Optional[Path] = None,
               sets: Optional[List[str]] = None, stage: str = "joint_sft",
               model_file: Optional[Path] = None) -> None:
        """Decode ``<exp>/<stage>`` (its decoding checkpoint, or ``model_file``) with the gate calibrated
        on dev into ``out_root``; test and non-speech also without it into ``<out_root>_nogate``.

        One ``decode_with_gate`` process per model (calibration and every decoding, ESPnet imported
        once), its log in ``<out_root>.log``.
        """
        from espnet_llm_entropy.pipeline.gated_decoding import GatedDecodingJob, job_arguments

        exp_dir, best = self.final_model(exp, stage)
        out_root = out_root or self.root / "decode"
        sets = sets or self.test_sets()
        job = GatedDecodingJob(
            asr_train_config=exp_dir / "config.yaml", asr_model_file=model_file or best, data_root=self.data,
            out_dir=out_root, sets=sets, nogate_sets=[s for s in ("test", "nonspeech") if s in sets],
            calibration_speech_dir=self.data / "dev", calibration_nonspeech_dir=self.data / "nonspeech_dev",
            batch_size=self.conf.decode_batch_size, decode_config=self.conf.conf_dir / "decode.yaml",
        )
        self._run("decode_with_gate", job_arguments(job), out_root.with_name(out_root.name + ".log"))

    def score(self, out_root: Optional[Path] = None, sets: Optional[List[str]] = None,
              scores_file: str = "scores.json") -> None:
        """Score ``out_root`` (default: decode/, then decode_nogate/ into scores_nogate.json)."""
        if out_root is None:
            self._score_dir(self.root / "decode", sets, scores_file)
            self._score_dir(self.root / "decode_nogate", ["test", "nonspeech"], "scores_nogate.json")
        else:
            self._score_dir(out_root, sets, scores_file)

    def _score_dir(self, out_root: Path, sets: Optional[List[str]], scores_file: str) -> None:
        from espnet_llm_entropy.evaluation.asr_scoring import score_by_language

        scores = {}
        for name in sets or self.test_sets():
            hyp = out_root / name / "1best_recog" / "text"
            if name != "nonspeech":
                scores[name] = score_by_language(self.data / name / "text", hyp, self.data / name / "utt2lang")
            espnet_steps.score_hallucination(hyp, self.data / name, out_root / name / "hallucination", name,
                                             nonspeech=name == "nonspeech")
        (self.root / scores_file).write_text(json.dumps(scores, indent=1, ensure_ascii=False))

    def learning_curves(self) -> None:
        from espnet_llm_entropy.analysis.learning_curves import write_learning_curves

        write_learning_curves({stage: self.exp / stage for stage in STAGES}, self.root / "curves")

    def diagnose(self, part: str, sft_args: Optional[List[str]] = None) -> None:
        """One side of the error diagnosis on test into ``diagnosis/<part>_side.json``: ``encoder``
        (a) the encoder's PER; ``llm`` (b) the oracle LLM side + the LLM's perplexity, with the IA-SFT
        experiment's settings (``sft_args``: its ``llm_asr_train`` options, so that it need not exist
        yet; None: its ``config.yaml``). (c), the full model, is ``joint_sft``'s test score, joined in
        by :meth:`add_full_model_to_diagnosis`."""
        args = ["--parts", part, "--test_dir", self.data / "test", "--out_dir", self.root / "diagnosis",
                "--seed", self.conf.seed]
        if part == "encoder":
            args += ["--pretrain_exp", self.exp / "pretrain"]
        else:
            args += ["--train_dir", self.data / "train", "--oracle_steps", self.conf.oracle_steps,
                     "--decode_config", self.conf.conf_dir / "decode.yaml"]
            args += (["--sft_exp", self.exp / "ia_sft"] if sft_args is None
                     else ["--sft_train_args", shlex.join(sft_args)])
        self._run("diagnose_errors", args, self.root / f"diagnosis_{part}.log")

    def add_full_model_to_diagnosis(self) -> None:
        """``diagnosis/diagnosis.json``: both sides and (c), the full model's test scores (``joint_sft``),
        also split by the training coverage of each test sentence's template."""
        from espnet_llm_entropy.analysis.error_diagnosis import full_model_coverage, merge_parts

        coverage = full_model_coverage(self.data / "test", self.root / "decode" / "test" / "1best_recog" / "text",
                                       self.data / "train")
        merge_parts(self.root / "diagnosis", self.data / "test",
                    json.loads((self.root / "scores.json").read_text()).get("test"), coverage)

    def robustness(self) -> None:
        """Joint SFT with training-time silence padding and noise.

        Shares the pretrained, aligned and IA-SFT stages with the main run
        (links), so the only difference between the two final models is the
        augmentation in the last stage; then decodes and scores the test and
        non-speech sets.
        """
        aug_exp = self.root / "exp_augmented"
        aug_exp.mkdir(exist_ok=True)
        for stage in SHARED_STAGES:
            if not (aug_exp / stage).exists():
                (aug_exp / stage).symlink_to(self.exp / stage, target_is_directory=True)
        aug = (f"--robustness_aug_conf prob={self.conf.augmentation_prob} "
               f"--robustness_aug_conf noise_scp={self.data / 'noise.scp'} "
               f"--nonspeech_examples_conf prob={self.conf.nonspeech_prob} "
               f"--nonspeech_examples_conf reversed_share=0.35 "
               f"--nonspeech_examples_conf noise_scp={self.data / 'noise.scp'}")
        args = self._method_args(aug_exp, {"joint_sft": aug})
        self._run("train_method", args + ["--stages", "joint_sft"], aug_exp / "train_method.log")
        sets = [s for s in ("test", "nonspeech") if s in self.test_sets()]
        self.decode(aug_exp, self.root / "decode_augmented", sets)
        self.score(self.root / "decode_augmented", sets, "scores_augmented.json")
        self.score(self.root / "decode_augmented_nogate", sets, "scores_augmented_nogate.json")

    def analyze(self) -> None:
        from espnet_llm_entropy.analysis.report import analyze_experiments

        exp_dir, _ = self.final_model()
        pretrain = self.exp / "pretrain"
        analyze_experiments(
            [exp_dir], self.data / "test", self.root / "analysis",
            reference_exp=pretrain, phone_exp=pretrain, max_utts=self.conf.analysis_max_utts,
        )

    def pack(self) -> None:
        """Pack the final model with its base LLM in ESPnet's format (what asr.sh stage 14 writes)."""
        from espnet_llm_entropy.packing.pack_model import pack_llm_asr

        exp_dir, model_file = self.final_model()
        pack_llm_asr(exp_dir / "config.yaml", model_file, self.root / PACK_FILE, include_llm=True)

    def grpo(self) -> None:
        """GRPO and continued SFT for ``grpo_updates`` each from the joint-SFT model (``pipeline/grpo_comparison.py``)."""
        from espnet_llm_entropy.pipeline.grpo_comparison import GRPOComparisonConfig, run_grpo_comparison

        c = self.conf
        run_grpo_comparison(self, GRPOComparisonConfig(c.grpo_updates, c.grpo_iters_per_epoch, tuple(c.grpo_seeds)))
        if (self.root / ".done" / "report").exists():  # a rerun that only added this step
            self.report()

    def report(self) -> None:
        from espnet_llm_entropy.pipeline.demo_report import write_results_md

        write_results_md(self.root, self.conf, self.timings, self.cpu_steal)


def run_demo(conf: DemoConfig) -> Path:
    """Run (or resume) the demo in ``conf.out_dir``; returns the report path."""
    logging.getLogger().setLevel(logging.WARNING)
    (Path(conf.out_dir)).mkdir(parents=True, exist_ok=True)
    (Path(conf.out_dir) / "demo_config.json").write_text(
        json.dumps(asdict(conf), indent=1, default=str)
    )
    return Demo(conf).run()
