"""Joint SFT vs joint SFT + GRPO vs joint SFT + continued SFT, at an equal number of extra updates.

Run by the demo's ``--grpo_updates N`` (its ``grpo`` step) on the demo's
own joint-SFT model. For each seed, two arms start from
``exp/joint_sft/valid.acc.best.pth`` and train for exactly N more updates
(``--num_iters_per_epoch`` x epochs):

* ``grpo``: the ``grpo`` stage (``conf/<preset>/grpo.yaml``); its checkpoint
  chosen on dev is the best dev reward;
* ``sft``: the joint-SFT config continued (the control); chosen on dev by
  accuracy.

Each arm is decoded twice: from the checkpoint chosen on dev (``best``) and
from the one after all N updates (``last``).

The base model and every arm are decoded as the demo decodes: test and
the non-speech clips with the gate calibrated on dev, and again without the
gate. Reported per model: test MER (and per language), test hallucination
rate, non-speech clips with output and output units per minute, and the
linear CKA of its encoder to the pretrained one on the test utterances.

Layout (under the demo's output dir)::

    grpo_cmp/base/decode{,_nogate}/          the joint-SFT model
    grpo_cmp/seed<k>/{grpo,sft}/             the arms' ESPnet exp dirs
    grpo_cmp/seed<k>/{grpo,sft}_{best,last}_decode{,_nogate}/
    grpo_comparison.{json,md,png}            the table and the GRPO curves
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_llm_entropy.fileio.atomic import write_json_atomic, write_text_atomic
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.pipeline.gated_decoding import nogate_dir
from espnet_llm_entropy.train import device_policy
from espnet_llm_entropy.train.espnet_commands import training_args

ARMS = ("grpo", "sft")
LAST = "latest.pth"
ARM_CONFIGS = {"grpo": "grpo.yaml", "sft": "joint_sft.yaml"}


@dataclass(frozen=True)
class GRPOComparisonConfig:
    """Options of the comparison.

    Attributes:
        updates: extra updates of each arm (a multiple of ``iters_per_epoch``).
        iters_per_epoch: updates between two validations (ESPnet epochs).
        seeds: one pair of arms per seed.
    """

    updates: int = 300
    iters_per_epoch: int = 50
    seeds: Sequence[int] = (0,)

    def __post_init__(self):
        if self.updates < 1 or self.iters_per_epoch < 1 or self.updates % self.iters_per_epoch:
            raise ValueError(
                f"--grpo_updates {self.updates} must be a positive multiple of the "
                f"{self.iters_per_epoch} updates per validation"
            )
        if not self.seeds:
            raise ValueError("--grpo_seeds: at least one seed")


def train_arm(demo, arm: str, seed: int, conf: GRPOComparisonConfig) -> Path:
    """Train one arm from the demo's joint-SFT model (resumable; a finished arm is left as it is); its exp dir."""
    from espnet_llm_entropy.analysis.learning_curves import read_training_state

    exp_dir = demo.root / "grpo_cmp" / f"seed{seed}" / arm
    epochs = conf.updates // conf.iters_per_epoch
    checkpoint = exp_dir / "checkpoint.pth"
    if checkpoint.is_file() and read_training_state(checkpoint)["reporter"]["epoch"] >= epochs:
        return exp_dir
    data = demo.data
    args = training_args(demo.conf.conf_dir / ARM_CONFIGS[arm], demo.root / "phones.txt", exp_dir,
                         data / "train", data / "dev", demo.root / "stats", device_policy.training_args(0))
    args += ["--seed", str(seed), "--llm_conf", f"path={demo.root / 'llm'}",
             "--init_param", str(demo.final_model()[1]),
             "--num_iters_per_epoch", str(conf.iters_per_epoch),
             "--max_epoch", str(epochs), "--use_matplotlib", "false"]
    if arm == "grpo":
        args += ["--grpo_conf", f"seed={seed}", "--nonspeech_examples_conf", f"noise_scp={data / 'noise.scp'}"]
    else:
        args += ["--probe_conf", f"data_dir={data / 'dev'}"]
    demo._run("llm_asr_train", args, exp_dir.parent / f"{arm}.log")
    return exp_dir


def decode_and_score(demo, exp_dir: Path, model_file: Path, out_root: Path) -> Dict:
    """Decode ``model_file`` of ``exp_dir`` as the demo decodes (gate calibrated on dev, and no gate);
    its scores. Skipped when ``out_root`` already holds the scores of the same checkpoint."""
    done = out_root.parent / f"{out_root.name}_row.json"
    source = str(Path(model_file).resolve())
    if done.exists():
        previous = json.loads(done.read_text())
        if previous.get("model_file") == source:
            return previous["row"]
    sets = ["test", "nonspeech"]
    demo.decode(exp=exp_dir.parent, out_root=out_root, sets=sets, stage=exp_dir.name, model_file=model_file)
    nogate = nogate_dir(out_root)
    rel = out_root.relative_to(demo.root)
    demo.score(out_root=out_root, sets=sets, scores_file=str(rel.parent / f"{rel.name}_scores.json"))
    demo.score(out_root=nogate, sets=sets, scores_file=str(rel.parent / f"{rel.name}_nogate_scores.json"))
    row = scores_row(demo.root / rel.parent / f"{rel.name}_scores.json", out_root, model_file)
    write_json_atomic(done, {"model_file": source, "row": row})
    return row


def scores_row(scores_file: Path, out_root: Path, model_file: Path) -> Dict:
    """One model's row: test error rates, and per gate setting test hallucination and non-speech output."""
    nogate = nogate_dir(out_root)
    scores = json.loads(Path(scores_file).read_text())
    row = {"test": scores["test"], "checkpoint": checkpoint_label(model_file)}
    for name, root in (("gate", out_root), ("nogate", nogate)):
        test_h = json.loads((root / "test" / "hallucination" / "hallucination.json").read_text())["speech"]
        ns = json.loads((root / "nonspeech" / "hallucination" / "hallucination.json").read_text())["nonspeech"]
        row[name] = {
            "test_hallucination_rate": test_h["hallucination"]["rate"],
            "nonspeech_with_output": ns["with_output"]["count"],
            "nonspeech_clips": ns["n_utts"],
            "nonspeech_units_per_minute": ns["units_per_minute"],
        }
    return row


def checkpoint_label(model_file: Path) -> str:
    """``valid.reward.best.pth = 1epoch.pth``: the file name and the epoch file it links to."""
    name, target = Path(model_file).name, Path(model_file).resolve().name
    return name if name == target else f"{name} = {target}"


def encoder_cka_to_pretrained(demo, models: Dict[str, Path]) -> Dict[str, float]:
    """Linear CKA of each model's encoder to the pretrained encoder, on all test utterances' frames."""
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask
    from espnet_llm_entropy.train.probe_set import ProbeConfig, ProbeSet, probe_cka

    test_dir = demo.data / "test"
    num_utts = len((test_dir / "wav.scp").read_text().splitlines())
    probe = ProbeSet(ProbeConfig(data_dir=str(test_dir), num_utts=num_utts), None)
    pre_dir = demo.exp / "pretrain"
    pretrained, _ = LLMASRTask.build_model_from_file(pre_dir / "config.yaml", pre_dir / "latest.pth", "cpu")
    reference = probe.encoder_outputs(pretrained.speech_encoder)
    out = {}
    for name, model_file in models.items():
        model, _ = LLMASRTask.build_model_from_file(model_file.parent / "config.yaml", model_file, "cpu")
        out[name] = probe_cka(reference, probe.encoder_outputs(model.speech_encoder))
    return out


def grpo_curves(exp_dir: Path) -> List[Dict]:
    """Per validation: update step, train reward/KL/zero-variance share/length, dev reward."""
    from espnet_llm_entropy.analysis.learning_curves import read_training_state

    stats = read_training_state(exp_dir / "checkpoint.pth")["reporter"]["stats"]
    rows = []
    for epoch in sorted(stats):
        train, valid = stats[epoch]["train"], stats[epoch].get("valid", {})
        rows.append({
            "epoch": int(epoch), "step": int(train["total_count"]),
            **{f"train_{k}": float(train[k]) for k in ("reward", "kl", "zero_variance_groups", "gen_len",
                                                       "reward_hallucination") if k in train},
            **{f"valid_{k}": float(valid[k]) for k in ("reward", "error_rate", "acc") if k in valid},
        })
    return rows


def plot_grpo_curves(curves: Dict[int, List[Dict]], path: Path) -> Optional[Path]:
    """Reward (train samples and dev greedy) and KL per update, one line per seed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logging.warning("matplotlib is missing: no %s", path)
        return None
    fig, (ax_r, ax_k) = plt.subplots(1, 2, figsize=(10, 3.6))
    for seed, rows in sorted(curves.items()):
        steps = [r["step"] for r in rows]
        ax_r.plot(steps, [r.get("train_reward") for r in rows], marker="o", label=f"seed {seed}: train samples")
        ax_r.plot(steps, [r.get("valid_reward") for r in rows], marker="s", ls="--", label=f"seed {seed}: dev greedy")
        ax_k.plot(steps, [r.get("train_kl") for r in rows], marker="o", label=f"seed {seed}")
    ax_r.set(xlabel="GRPO update", ylabel="mean reward", title="reward")
    ax_k.set(xlabel="GRPO update", ylabel="KL to the joint-SFT policy (per token)", title="KL")
    ax_r.legend(fontsize=7)
    ax_k.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def comparison_table(rows: Dict[str, Dict]) -> str:
    """Markdown: one line per model (base, then each arm and seed)."""
    head = ("| model | checkpoint | test MER | zh CER | en WER | cs MER | test halluc. | non-speech with output "
            "(gate / no gate) | units/min (gate / no gate) | CKA to pretrained |\n" + "|---" * 10 + "|\n")
    lines = []
    for name, row in rows.items():
        test = row["test"]
        g, n = row["gate"], row["nogate"]
        lines.append(
            f"| {name} | {row.get('checkpoint', '-')} | {_pct(test['all']['rate'])} | {_pct(test.get('zh', {}).get('rate'))} | "
            f"{_pct(test.get('en', {}).get('rate'))} | {_pct(test.get('cs', {}).get('rate'))} | "
            f"{_pct(g['test_hallucination_rate'])} | {g['nonspeech_with_output']}/{g['nonspeech_clips']} / "
            f"{n['nonspeech_with_output']}/{n['nonspeech_clips']} | {g['nonspeech_units_per_minute']:.1f} / "
            f"{n['nonspeech_units_per_minute']:.1f} | {row['cka']:.4f} |"
        )
    return head + "\n".join(lines) + "\n"


def run_grpo_comparison(demo, conf: GRPOComparisonConfig) -> Path:
    """Train, decode and score every arm; write ``grpo_comparison.{json,md,png}``; returns the .md."""
    cmp_root = demo.root / "grpo_cmp"
    base_dir, base_model = demo.final_model()
    rows: Dict[str, Dict] = {"base": decode_and_score(demo, base_dir, base_model, cmp_root / "base" / "decode")}
    models = {"base": base_model}
    curves = {}
    for seed in conf.seeds:
        for arm in ARMS:
            exp_dir = train_arm(demo, arm, seed, conf)
            # the checkpoint chosen on dev, and the one after the whole update budget
            for kind, model_file in (("best", espnet_steps.decoding_checkpoint(exp_dir)),
                                     ("last", exp_dir / LAST)):
                name = f"{arm} seed {seed} {kind}"
                rows[name] = decode_and_score(demo, exp_dir, model_file, exp_dir.parent / f"{arm}_{kind}_decode")
                models[name] = model_file
        curves[seed] = grpo_curves(cmp_root / f"seed{seed}" / "grpo")
    for name, cka in encoder_cka_to_pretrained(demo, models).items():
        rows[name]["cka"] = cka
    figure = plot_grpo_curves(curves, demo.root / "grpo_comparison.png")
    write_json_atomic(demo.root / "grpo_comparison.json",
                      {"updates": conf.updates, "iters_per_epoch": conf.iters_per_epoch, "seeds": list(conf.seeds),
                       "models": {k: str(v) for k, v in models.items()}, "rows": rows, "curves": curves})
    text = (f"# Joint SFT vs + GRPO vs + continued SFT ({conf.updates} extra updates each)\n\n"
            + comparison_table(rows)
            + ("\n![GRPO reward and KL](grpo_comparison.png)\n" if figure else ""))
    out = demo.root / "grpo_comparison.md"
    write_text_atomic(out, text)
    return out
