"""Run the whole method on the bundled bilingual mini corpus, on a CPU.

Builds the corpus, phone inventory and a small LLM, trains the four stages
(phoneme CR-CTC pretraining with CKA-triggered encoder publication,
alignment, IA-SFT with hot-swaps, joint SFT), decodes the test, non-speech
and AN4 sets, scores CER/WER and hallucination, runs the entropy analysis
and writes ``<out_dir>/RESULTS.md``. Re-running resumes after the last
finished step.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from espnet_llm_entropy.pipeline.demo_pipeline import ESPNET_AN4_DIR, NO_AN4, DemoConfig, resolve_an4_dir, run_demo
from espnet_llm_entropy.train.method_spec import MODES
from espnet_llm_entropy.train.stage_schedule import STAGES


def parse_epochs(values: List[str]) -> dict:
    """``stage=N`` strings -> {stage: N}."""
    out = {}
    for value in values or []:
        stage, sep, num = value.partition("=")
        if not sep or not num.isdigit():
            raise argparse.ArgumentTypeError(f"--epochs expects STAGE=N, got {value!r}")
        out[stage] = int(num)
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.demo",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = DemoConfig(out_dir=Path("."))
    p.add_argument("--out_dir", type=Path, default=Path("demo_out"))
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--num_train", type=int, default=d.num_train)
    p.add_argument("--num_dev", type=int, default=d.num_dev)
    p.add_argument("--num_test", type=int, default=d.num_test)
    p.add_argument("--an4_dir", type=str, default=None,
                   help="directory with ESPnet's mini_an4 downloads.tar.gz (real AN4 speech and noise "
                   f"recordings); default: $ESPNET_ROOT/{ESPNET_AN4_DIR} when ESPNET_ROOT is set and it "
                   f"holds the archive, else no AN4 part; '{NO_AN4}': no AN4 part")
    p.add_argument("--num_speakers", type=int, default=d.num_speakers, help="synthetic speakers")
    p.add_argument("--llm_hidden_size", type=int, default=d.llm_hidden_size)
    p.add_argument("--llm_pretrain_steps", type=int, default=d.llm_pretrain_steps)
    p.add_argument("--llm_template_sentences", type=int, default=d.llm_template_sentences,
                   help="template sentences added to the training transcripts in the LLM's pretraining text")
    p.add_argument("--oracle_steps", type=int, default=d.oracle_steps,
                   help="updates of the diagnosis' LLM side on a perfect encoder")
    p.add_argument("--epochs", nargs="*", default=[], metavar="STAGE=N",
                   help=f"N full passes over the training data for these stages ({', '.join(STAGES)}): "
                   "max_epoch N, and num_iters_per_epoch unset where the preset shortens its epochs")
    p.add_argument("--train_mode", choices=MODES, default=d.train_mode,
                   help="how pretraining and IA-SFT run (train_method --mode): lockstep runs them side by "
                   "side with the swaps replay mode gives (reproducible); replay one after the other")
    p.add_argument("--conf_dir", type=Path, default=d.conf_dir,
                   help="stage configs and decode.yaml (default: the tiny preset shipped in the package)")
    p.add_argument("--grpo_updates", type=int, default=d.grpo_updates,
                   help="after the demo: this many GRPO updates and, as the control, as many continued "
                   "joint-SFT updates from the joint-SFT model, both decoded and compared (0: skip; about "
                   "5 s per GRPO update on 2 CPU cores)")
    p.add_argument("--grpo_iters_per_epoch", type=int, default=d.grpo_iters_per_epoch,
                   help="updates between two validations of the GRPO comparison's arms")
    p.add_argument("--grpo_seeds", type=int, nargs="+", default=d.grpo_seeds,
                   help="one GRPO arm and one continued-SFT arm per seed")
    return p


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    an4_dir = resolve_an4_dir(args.an4_dir)
    print(f"[demo] AN4: {an4_dir}" if an4_dir else "[demo] AN4: none found (--an4_dir), the AN4 part is skipped",
          flush=True)
    conf = DemoConfig(
        out_dir=args.out_dir, seed=args.seed, num_train=args.num_train, num_dev=args.num_dev,
        num_test=args.num_test, num_speakers=args.num_speakers, an4_dir=an4_dir,
        llm_hidden_size=args.llm_hidden_size, llm_pretrain_steps=args.llm_pretrain_steps,
        llm_template_sentences=args.llm_template_sentences, oracle_steps=args.oracle_steps, epochs=parse_epochs(args.epochs),
        train_mode=args.train_mode, conf_dir=args.conf_dir, grpo_updates=args.grpo_updates,
        grpo_iters_per_epoch=args.grpo_iters_per_epoch, grpo_seeds=args.grpo_seeds,
    )
    report = run_demo(conf)
    print(f"\nReport: {report}\n")
    print(report.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
