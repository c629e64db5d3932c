"""The one-command demo: the whole method on the bundled mini corpus, on a CPU.

Steps (each resumable: a finished step leaves a marker and is skipped when
the demo runs again in the same directory):

1. ``corpus``   bilingual espeak-ng corpus + non-speech + AN4 sets
2. ``phones``   phone transcripts and the phone inventory (``text_to_phones``)
3. ``llm``      a tokenizer and a small causal LM pretrained on the training text
4. ``stats``    ESPnet statistics / shape files (asr.sh stage 10)
5. ``train``    the four training stages with hot-swaps (asr.sh stage 11)
6. ``curves``   learning curves: dev PER of pretraining, dev token accuracy
                of the LLM stages, per update step
7. ``decode``   the CTC-evidence gate's threshold chosen on dev speech and
                dev non-speech; test, non-speech (and AN4) sets decoded
                with the gate (asr.sh stage 12), test and non-speech also
                without it
8. ``score``    CER/WER per language + hallucination tables (stage 13)
9. ``diagnose`` where the error comes from: the encoder's phone error rate,
                the LLM side on a perfect encoder, the LLM's perplexity
10. ``robustness`` joint SFT again with silence/noise augmentation and
                non-speech examples (from the same IA-SFT model), its gate
                calibrated, decoded and scored, so the report compares
                hallucination with and without them
11. ``analyze``  entropy-allocation metrics and plots
12. ``report``  ``RESULTS.md``

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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from espnet_llm_entropy.conf import preset_dir, stage_config_name
from espnet_llm_entropy.corpus.an4_archive import ARCHIVE_NAME as AN4_ARCHIVE
from espnet_llm_entropy.llm.template_lm import TemplateLMConfig
from espnet_llm_entropy.machine_info import cpu_time_counters, stolen_percent
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.train.stage_schedule import STAGES

CONF_DIR = preset_dir("tiny")
# stages the robustness retraining shares with the main run (it retrains the rest)
ROBUSTNESS_SHARED_STAGES = ("pretrain", "align", "ia_sft")
#: The pack of the final model (ESPnet's format, base LLM inside), relative to the demo folder.
PACK_FILE = "pack/joint_sft.zip"
# log lines echoed to the console while a step runs
PROGRESS_LINES = r"epoch results|published encoder|swapped|hot-swap|stage .* (started|finished)|Error"
#: Where ESPnet keeps the mini_an4 archive, relative to an ESPnet checkout ($ESPNET_ROOT).
ESPNET_AN4_DIR = Path("egs2") / "mini_an4" / "asr1"
#: ``--an4_dir`` value that leaves AN4 out even when ESPnet's copy is found.
NO_AN4 = "none"
#: Training utterances of the bundled corpus the demo (and the paradigm comparison) builds.
DEFAULT_NUM_TRAIN = 10000


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
    oracle_steps: int = 2000
    epochs: Dict[str, int] = field(default_factory=dict)
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
            ("llm", self.make_llm),
            ("stats", self.collect_stats),
            ("train", self.train),
            ("curves", self.learning_curves),
            ("decode", self.decode),
            ("score", self.score),
            ("diagnose", self.diagnose),
            ("robustness", self.robustness),
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

    # ----------------------------------------------------------------- driver
    def run(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        done_dir = self.root / ".done"
        done_dir.mkdir(exist_ok=True)
        timings_file = self.root / "timings.json"
        if timings_file.exists():
            self.timings = json.loads(timings_file.read_text())
        steal_file = self.root / "cpu_steal.json"
        if steal_file.exists():
            self.cpu_steal = json.loads(steal_file.read_text())
        total = len(self.steps)
        for i, (name, fn) in enumerate(self.steps, 1):
            marker = done_dir / name
            if marker.exists():
                print(f"[demo {i}/{total}] {name}: already done", flush=True)
                continue
            print(f"[demo {i}/{total}] {name} ...", flush=True)
            start, counters = time.time(), cpu_time_counters()
            fn()
            self.timings[name] = round(time.time() - start, 1)
            timings_file.write_text(json.dumps(self.timings, indent=1))
            stolen = stolen_percent(counters, cpu_time_counters())
            if stolen is not None:
                self.cpu_steal[name] = round(stolen, 1)
                steal_file.write_text(json.dumps(self.cpu_steal, indent=1))
            marker.touch()
            print(f"[demo {i}/{total}] {name} done in {self.timings[name]:.0f} s", flush=True)
        return self.root / "RESULTS.md"

    def _run(self, module: str, args: List, log: Path) -> None:
        print(f"    log: {log}", flush=True)
        espnet_steps.run_entry_point(module, args, in_process=False, log_file=log, echo=PROGRESS_LINES)

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
        """The corpus-matched LLM (the mini recipe's stage 1 builds the same one)."""
        from espnet_llm_entropy.llm.template_lm import make_template_lm

        c = self.conf
        conf = TemplateLMConfig(
            vocab_size=c.llm_vocab_size, hidden_size=c.llm_hidden_size, num_layers=c.llm_layers,
            template_sentences=c.llm_template_sentences, steps=c.llm_pretrain_steps, seed=c.seed,
        )
        make_template_lm(self.data / "train" / "text", [self.data / "dev" / "text", self.data / "test" / "text"],
                         self.root / "llm", conf)

    def collect_stats(self) -> None:
        espnet_steps.collect_stats(
            self.conf.conf_dir / "pretrain_phoneme_ctc.yaml", self.root / "phones.txt",
            self.data / "train", self.data / "dev", self.root / "stats", in_process=True,
        )

    def _method_args(self, exp_dir: Path, extra_args: Dict[str, str]) -> List:
        args = [
            "--exp_dir", exp_dir, "--token_list", self.root / "phones.txt",
            "--stats_dir", self.root / "stats", "--train_dir", self.data / "train",
            "--valid_dir", self.data / "dev", "--llm_dir", self.root / "llm",
        ]
        for stage in STAGES:
            args += [f"--{stage}_config", self.conf.conf_dir / stage_config_name(stage)]
            opts = extra_args.get(stage, "")
            if stage in self.conf.epochs:
                opts += f" --max_epoch {self.conf.epochs[stage]}"
            if opts.strip():
                args += [f"--{stage}_args", opts.strip()]
        return args

    def train(self) -> None:
        pretrain = f"--nonspeech_examples_conf noise_scp={self.data / 'noise.scp'}"
        self._run("train_method", self._method_args(self.exp, {"pretrain": pretrain}),
                  self.exp / "train_method.log")

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
            batch_size=self.conf.decode_batch_size,
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

    def diagnose(self) -> None:
        """(a) encoder PER, (b) oracle LLM side + LLM perplexity, (c) the full model, on test."""
        from espnet_llm_entropy.analysis.error_diagnosis import diagnose_errors

        scores = json.loads((self.root / "scores.json").read_text()).get("test")
        diagnose_errors(self.exp / "pretrain", self.exp / "ia_sft", self.data / "train", self.data / "test",
                        self.root / "diagnosis", full_model_scores=scores, oracle_steps=self.conf.oracle_steps,
                        seed=self.conf.seed)

    def robustness(self) -> None:
        """Joint SFT with training-time silence padding and noise.

        Shares the pretrained, aligned and IA-SFT stages with the main run
        (links), so the only difference between the two final models is the
        augmentation in the last stage; then decodes and scores the test and
        non-speech sets.
        """
        aug_exp = self.root / "exp_augmented"
        aug_exp.mkdir(exist_ok=True)
        for stage in ROBUSTNESS_SHARED_STAGES:
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
