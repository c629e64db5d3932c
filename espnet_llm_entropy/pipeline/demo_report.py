"""The demo's ``RESULTS.md``: environment, CER/WER, hallucination, hot-swaps, entropy analysis.

Every number in the report is read from a file a pipeline step wrote
(``scores.json``, ``decode/*/hallucination/hallucination.json``, the
trainer's swap history, ``analysis/metrics.json``), never recomputed here.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.evaluation.asr_scoring import results_table
from espnet_llm_entropy.evaluation.report_table import markdown_from_results
from espnet_llm_entropy.fileio.atomic import write_text_atomic
from espnet_llm_entropy.machine_info import cpu_description


def environment_block() -> str:
    """ESPnet's RESULTS.md header: date, python, torch, espnet, machine."""
    import espnet
    import torch
    import transformers

    return (
        "## Environments\n"
        f"- date: `{time.strftime('%a %b %d %H:%M:%S %Z %Y')}`\n"
        f"- python version: `{platform.python_version()}`\n"
        f"- espnet version: `espnet {espnet.__version__}`\n"
        f"- pytorch version: `pytorch {torch.__version__}`\n"
        f"- transformers version: `{transformers.__version__}`\n"
        f"- machine: `{cpu_description()}, no GPU used`\n"
    )


def _hallucination_section(root: Path) -> str:
    parts = []
    for decode_dir, title in (("decode", "## Hallucination"),
                              ("decode_augmented", "## Hallucination with robustness augmentation")):
        results = [json.loads(p.read_text())
                   for p in sorted((root / decode_dir).glob("*/hallucination/hallucination.json"))]
        if results:
            parts.append(f"{title}\n\n" + markdown_from_results(results) + "\n")
    if len(parts) == 2:
        parts[1] = parts[1].replace(
            "\n\n", "\n\nJoint SFT trained again from the same IA-SFT model with silence "
            "padding and noise (`--robustness_aug_conf`) and non-speech examples with empty "
            "transcripts (`--nonspeech_examples_conf`).\n\n", 1)
    return "\n".join(parts)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _gate_row(root: Path, model: str, decode_dir: str, gate: str) -> str:
    test = _read_json(root / decode_dir / "test" / "hallucination" / "hallucination.json") or {}
    nonspeech = _read_json(root / decode_dir / "nonspeech" / "hallucination" / "hallucination.json") or {}
    speech, silent = test.get("speech") or {}, nonspeech.get("nonspeech") or {}
    cells = [model, gate]
    err = speech.get("error_rate")
    cells.append("" if err is None else f"{100 * err['rate']:.1f}")
    hall = speech.get("hallucination")
    cells.append("" if hall is None else f"{hall['count']} ({100 * hall['rate']:.1f}%)")
    out = silent.get("with_output")
    cells.append("" if out is None else f"{out['count']} / {silent['n_utts']}")
    upm = silent.get("units_per_minute")
    cells.append("" if upm is None else f"{upm:.1f}")
    return "|" + "|".join(cells) + "|"


def _gate_section(root: Path) -> str:
    rows, notes = [], []
    for model, decode_dir in (("main", "decode"), ("robustness-trained", "decode_augmented")):
        calibration = _read_json(root / decode_dir / "gate_calibration.json")
        if calibration is None:
            continue
        c = calibration["calibration"]
        rows.append(_gate_row(root, model, decode_dir, f"on (min_ctc_phones={c['min_ctc_phones']})"))
        rows.append(_gate_row(root, model, decode_dir + "_nogate", "off"))
        notes.append(
            f"- {model}: min_ctc_phones = {c['min_ctc_phones']}, chosen on dev "
            f"(`{decode_dir}/gate_calibration.json`): dev speech gated {c['speech_gated']} / "
            f"{c['num_speech']} (fewest CTC phones {c['speech_min_phones']}), dev non-speech "
            f"passed {c['nonspeech_passed']} / {c['num_nonspeech']} (most CTC phones "
            f"{c['nonspeech_max_phones']})"
        )
    if not rows:
        return ""
    header = ("|model|CTC-evidence gate|test MER %|test hallucinations|non-speech clips with output"
              "|non-speech units per minute|\n|---|---|---|---|---|---|\n")
    return ("## CTC-evidence gate\n\nDecoding skips the LLM where the phone-CTC head hears fewer "
            "than `min_ctc_phones` phones. Thresholds:\n\n" + "\n".join(notes) + "\n\n"
            + header + "\n".join(rows) + "\n")


def _swap_section(root: Path) -> str:
    path = root / "exp" / "swap_history.json"
    if not path.exists():
        return ""
    history = json.loads(path.read_text())
    swaps = history.get("ia_sft", [])
    rows = ["|IA-SFT step|encoder version|CKA old vs new encoder|", "|---|---|---|"]
    for h in swaps:
        cka = h.get("cka_old_new", h.get("cka"))
        rows.append(f"|{h.get('step')}|v{h.get('version')}|{'' if cka is None else f'{cka:.4f}'}|")
    return (
        f"## Encoder hot-swaps during IA-SFT ({history.get('mode', '')} mode)\n\n"
        f"{len(swaps)} swaps (from `{path.relative_to(root)}`).\n\n" + "\n".join(rows) + "\n"
    )


def _analysis_section(root: Path) -> str:
    summary = root / "analysis" / "summary.md"
    if not summary.exists():
        return ""
    pngs = sorted((root / "analysis").glob("*.png"))
    images = "".join(f"![{p.stem}](analysis/{p.name})\n" for p in pngs)
    # nest the analysis summary's headings under this section
    text = "\n".join(
        ("##" + line) if line.startswith("#") else line for line in summary.read_text().splitlines()
    )
    return "## Entropy allocation\n\n" + text + "\n\n" + images


def _percent(scores: Dict, group: str = "all") -> str:
    entry = (scores or {}).get(group)
    return "" if not entry else f"{100 * entry['rate']:.1f}"


def _rate(bucket: Dict) -> str:
    return f"{100 * bucket['rate']:.1f}%" if bucket.get("rate") is not None else "n/a"


def _diagnosis_section(root: Path) -> str:
    path = root / "diagnosis" / "diagnosis.json"
    if not path.exists():
        return ""
    d = json.loads(path.read_text())
    per = d["a_encoder_phone_error_rate"]
    ppl = d["b_llm_text_perplexity"]
    oracle = d["b_oracle_encoder"]
    full = d.get("c_full_model") or {}
    rows = ["|part measured|test MER %|zh CER %|en WER %|cs MER %|", "|---|---|---|---|---|"]
    decoding = "greedy with the decoding guards" if oracle.get("decoding_guard_conf") else "greedy"
    for name, scores in (("(b) LLM side on a perfect encoder (oracle phones, "
                          f"{oracle['steps']} updates, {decoding})", oracle["scores"]), ("(c) full model", full)):
        rows.append(f"|{name}|" + "|".join(_percent(scores, g) for g in ("all", "zh", "en", "cs")) + "|")
    coverage = d.get("c_by_template_coverage")
    split = ""
    if coverage and coverage["rare"]["utts"] and coverage["covered"]["utts"]:
        rare, covered = coverage["rare"], coverage["covered"]
        split = (f"\n(c) by the training coverage of each test sentence's corpus template: "
                 f"{rare['utts']} utterances from templates with fewer than {coverage['min_train']} training "
                 f"transcripts, {rare['errors']} errors in {rare['ref_units']} units "
                 f"({_rate(rare)}); the other {covered['utts']}, {covered['errors']} in {covered['ref_units']} "
                 f"({_rate(covered)}).\n")
    return (
        "## Where the error comes from (test set)\n\n"
        f"- (a) pretrained encoder alone, greedy CTC phone error rate: {100 * per['per']:.1f}% "
        f"({per['errors']} errors / {per['ref_phones']} phones)\n"
        f"- (b) the LLM's text-only perplexity on the test transcripts: {ppl['perplexity']:.2f} per token "
        f"({ppl['bits_per_sentence']:.1f} bits per sentence)\n\n"
        + "\n".join(rows) + f"\n{split}\nFrom `{path.relative_to(root)}`.\n"
    )


def _curves_section(root: Path) -> str:
    png = root / "curves" / "learning_curves.png"
    if not png.exists():
        return ""
    return ("## Learning curves\n\nDev phone error rate of pretraining and dev token accuracy of the "
            "LLM stages per update step (`curves/learning_curves.json`).\n\n"
            f"![learning curves]({png.relative_to(root)})\n")


def _pack_section(root: Path) -> str:
    from espnet_llm_entropy.pipeline.demo_pipeline import PACK_FILE

    pack = root / PACK_FILE
    if not pack.exists():
        return ""
    return (
        "## Packed model\n\n"
        f"`{PACK_FILE}`: {pack.stat().st_size / 1e6:.1f} MB in ESPnet's pack format (config, checkpoint, "
        "phone inventory, LLM tokenizer, base-LLM identity and the base LLM itself). Load it anywhere with "
        f"`LLMSpeech2Text.from_pretrained(\"{PACK_FILE}\")` or decode with "
        f"`python -m espnet_llm_entropy.bin.llm_asr_inference --model_tag {PACK_FILE} ...`.\n"
    )


def _grpo_section(root: Path) -> str:
    table = root / "grpo_comparison.md"
    if not table.exists():
        return ""
    body = table.read_text(encoding="utf-8").split("\n", 1)[1]
    return ("## GRPO after joint SFT (`--grpo_updates`)\n\nThe same extra updates of GRPO and of continued "
            "joint SFT from the demo's joint-SFT model (`grpo_comparison.json`); error and hallucination "
            "rates in percent.\n" + body)


def wall_time_section(timings: Dict[str, float], cpu_steal: Optional[Dict[str, float]] = None) -> str:
    """The per-step wall-time table; with ``cpu_steal`` (percent per step) a column of the CPU
    time the host of a virtual machine gave to other guests while the step ran (total:
    weighted by the steps' wall time).

    Members of a group of steps that ran at the same time (``group/member`` keys) get
    indented rows under their group and do not count in the total (the group does).
    """
    steps = [k for k in timings if "/" not in k]
    order = [row for k in steps for row in [k] + [m for m in timings if m.startswith(k + "/")]]
    total = sum(timings[k] for k in steps)

    def label(key: str) -> str:
        return f"&nbsp;&nbsp;{key.split('/', 1)[1]} (in parallel)" if "/" in key else key

    if not cpu_steal:
        rows = "".join(f"|{label(k)}|{timings[k]:.0f}|\n" for k in order)
        return f"## Wall time (s)\n\n|step|seconds|\n|---|---|\n{rows}|total|{total:.0f}|\n"
    rows = "".join(f"|{label(k)}|{timings[k]:.0f}|" + (f"{cpu_steal[k]:.1f}" if k in cpu_steal else "") + "|\n"
                   for k in order)
    measured = {k: timings[k] for k in steps if k in cpu_steal}
    weighted = sum(cpu_steal[k] * v for k, v in measured.items()) / max(sum(measured.values()), 1e-9)
    return (f"## Wall time (s)\n\n|step|seconds|CPU stolen by other guests (%)|\n|---|---|---|\n{rows}"
            f"|total|{total:.0f}|{weighted:.1f}|\n\nStolen time is CPU time the host of this virtual machine "
            "gave to other guests (`/proc/stat`); the same work takes longer by about that share.\n")


def write_results_md(root: Path, conf, timings: Dict[str, float],
                     cpu_steal: Optional[Dict[str, float]] = None) -> Path:
    """Assemble ``root/RESULTS.md`` from the files the steps wrote (atomic write)."""
    parts: List[str] = [
        "<!-- Generated by espnet_llm_entropy.bin.demo -->\n# RESULTS (demo, bilingual mini corpus)\n",
        environment_block(),
        f"\nCommand: `python -m espnet_llm_entropy.bin.demo --out_dir {root}`; corpus: "
        f"{conf.num_train} train / {conf.num_dev} dev / {conf.num_test} test utterances "
        f"(espeak-ng), seed {conf.seed}.\n",
    ]
    scores = json.loads((root / "scores.json").read_text()) if (root / "scores.json").exists() else {}
    for name, per_lang in scores.items():
        parts.append(f"\n## {name}: error rates (percent)\n\n" + results_table(per_lang))
    augmented = root / "scores_augmented.json"
    for name, per_lang in (json.loads(augmented.read_text()) if augmented.exists() else {}).items():
        parts.append(f"\n## {name}, trained with robustness augmentation: error rates (percent)\n\n"
                     + results_table(per_lang))
    for section in (_diagnosis_section(root), _curves_section(root), _gate_section(root),
                    _hallucination_section(root), _grpo_section(root),
                    _swap_section(root), _analysis_section(root), _pack_section(root)):
        if section:
            parts.append("\n" + section)
    if timings:
        parts.append("\n" + wall_time_section(timings, cpu_steal))
    out = root / "RESULTS.md"
    write_text_atomic(out, "".join(parts))
    return out
