"""CER/WER of a decoding run, per language, in the shape of ESPnet's RESULTS.md.

Mandarin is scored in characters (CER), English in words (WER) and
code-switched text in mixed units (each CJK character and each English word
is one unit: MER). Without ``utt2lang`` every utterance is scored in mixed
units, which equals CER for pure Chinese and WER for pure English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.evaluation.alignment import error_rate
from espnet_llm_entropy.evaluation.hypothesis_ids import check_hypothesis_ids
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text

UNIT_BY_LANGUAGE = {"zh": ("char", "CER"), "en": ("word", "WER"), "cs": ("mixed", "MER")}
ALL = ("mixed", "MER")


def score_by_language(
    ref_path: Path, hyp_path: Path, utt2lang: Optional[Path] = None, allow_missing: bool = False
) -> Dict[str, Dict]:
    """Error rates of ``hyp_path`` against ``ref_path``: overall and per language.

    A reference utterance without hypothesis is an error (a decoding job
    that stopped part-way), unless ``allow_missing``: then it counts as an
    empty output, with a warning. Hypothesis ids that are not in the
    reference are always an error. Both messages name the files, the count
    and the first ids (:func:`check_hypothesis_ids`).

    Returns:
        ``{"all": {...}, "zh": {...}, ...}``, each the dict of
        :func:`error_rate` plus ``metric`` ("CER", "WER" or "MER").
    """
    refs = read_kaldi_text(ref_path)
    hyps = read_kaldi_text(hyp_path)
    check_hypothesis_ids(list(hyps), list(refs), hyp_path, ref_path, allow_missing,
                         how_to_allow="call with allow_missing=True (--allow_missing)")
    langs = read_kaldi_text(utt2lang) if utt2lang and Path(utt2lang).exists() else {}
    ids = sorted(refs)
    groups: Dict[str, List[str]] = {"all": ids}
    for uid in ids:
        lang = langs.get(uid, "").strip()
        if lang in UNIT_BY_LANGUAGE:
            groups.setdefault(lang, []).append(uid)
    results = {}
    for name, members in groups.items():
        unit, metric = UNIT_BY_LANGUAGE.get(name, ALL)
        res = error_rate([refs[u] for u in members], [hyps.get(u, "") for u in members], unit=unit)
        res["metric"] = metric
        results[name] = res
    return results


def results_table(rows: Dict[str, Dict]) -> str:
    """ESPnet-style markdown: ``|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|`` (percent)."""
    lines = ["|dataset|metric|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        n = max(r["ref_len"], 1)
        pct = [100.0 * r[k] / n for k in ("cor", "sub", "del", "ins", "errors")]
        serr = 100.0 * r["sentence_errors"] / max(r["n_utts"], 1)
        lines.append(
            f"|{name}|{r['metric']}|{r['n_utts']}|{r['ref_len']}|"
            + "|".join(f"{v:.1f}" for v in pct)
            + f"|{serr:.1f}|"
        )
    return "\n".join(lines) + "\n"
