"""Test errors split by how well the training set covers each sentence's template.

The mini corpus (:mod:`espnet_llm_entropy.corpus.sentence_templates`) draws
each split's sentences template by template, uniformly, all distinct, and
keeps the dev and test sentences out of training. A template with a small
sentence space (``我想吃{food}``: 8 sentences) therefore gives the test set
as many sentences as a large one, but the training set only what dev and
test left of it, sometimes not one sentence with a given slot word. This
module finds the template of each sentence, counts the training
transcripts of the same template, and splits a test set's errors at a
coverage threshold, so that a report can say how much of the error sits
in sentences whose template training has barely seen.

Sentences no template matches (real speech, another corpus) are counted
apart, as ``unmatched``.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from espnet_llm_entropy.evaluation.alignment import align_counts
from espnet_llm_entropy.evaluation.text_units import text_to_units

#: training transcripts of its template below which a test sentence counts as rarely covered
DEFAULT_MIN_TRAIN = 10


def _compact(text: str) -> str:
    """Lower-case, without whitespace: the form templates are matched in (the corpus puts spaces
    around English runs that its patterns do not have)."""
    return "".join(text.split()).casefold()


@lru_cache(maxsize=1)
def _template_matchers() -> Tuple[Tuple[str, "re.Pattern[str]", int], ...]:
    """(template name, compiled full-match regex, literal characters) of every template."""
    from espnet_llm_entropy.corpus.sentence_templates import TEMPLATES, WordChoice

    def slot(filler) -> str:  # a word list matches its words only; a generated slot (digits, times) anything
        if isinstance(filler, WordChoice):
            words = sorted({_compact(w) for w in filler.words}, key=len, reverse=True)
            return "(?:" + "|".join(re.escape(w) for w in words) + ")"
        return "(?:.+?)"

    out = []
    for language, templates in TEMPLATES.items():
        for index, template in enumerate(templates):
            pieces = re.split(r"{(\w+)}", template.pattern)  # literal, slot name, literal, ...
            regex = "".join(re.escape(_compact(p)) if i % 2 == 0 else slot(template.slots[p])
                            for i, p in enumerate(pieces))
            literal = sum(len(_compact(p)) for p in pieces[::2])
            out.append((f"{language}:{index}:{template.pattern}", re.compile(regex + r"\Z"), literal))
    return tuple(out)


def template_of(text: str) -> Optional[str]:
    """``"<language>:<index>:<pattern>"`` of the corpus template that produced ``text`` (the most
    specific one when several match), or None when none does."""
    compact = _compact(text)
    matches = [(literal, name) for name, regex, literal in _template_matchers() if regex.match(compact)]
    return max(matches)[1] if matches else None


def template_counts(texts: Iterable[str]) -> Counter:
    """How many of ``texts`` each template produced (None counts the unmatched ones)."""
    return Counter(template_of(t) for t in texts)


def _bucket(rows: List[Dict]) -> Dict:
    units = sum(r["ref_units"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    return {"utts": len(rows), "ref_units": units, "errors": errors,
            "rate": errors / units if units else None}


def errors_by_template_coverage(
    refs: Mapping[str, str], hyps: Mapping[str, str], train_texts: Iterable[str],
    min_train: int = DEFAULT_MIN_TRAIN,
) -> Dict:
    """Split the errors of ``hyps`` against ``refs`` by the training coverage of each template.

    Args:
        refs: utterance id -> reference transcript (a test set).
        hyps: utterance id -> hypothesis (missing ids count as empty output).
        train_texts: the training transcripts.
        min_train: a sentence is ``rare`` when fewer training transcripts share its template.

    Returns:
        ``{"min_train", "rare", "covered", "unmatched"}``; each bucket has ``utts``,
        ``ref_units``, ``errors`` (mixed units: Chinese characters and English words) and
        ``rate``; ``rare`` also lists its erroneous utterances (``rows``: id, template,
        training transcripts of the template, errors, reference, hypothesis).
    """
    if min_train < 1:
        raise ValueError(f"min_train: expected >= 1, got {min_train}")
    counts = template_counts(train_texts)
    buckets: Dict[str, List[Dict]] = {"rare": [], "covered": [], "unmatched": []}
    for uid in sorted(refs):
        ref_units = text_to_units(refs[uid])
        errors = align_counts(ref_units, text_to_units(hyps.get(uid, ""))).errors
        name = template_of(refs[uid])
        row = {"utt_id": uid, "template": name, "train_transcripts": counts.get(name, 0) if name else None,
               "errors": errors, "ref_units": len(ref_units), "ref": refs[uid], "hyp": hyps.get(uid, "")}
        kind = "unmatched" if name is None else ("rare" if counts.get(name, 0) < min_train else "covered")
        buckets[kind].append(row)
    out: Dict = {"min_train": min_train}
    for kind, rows in buckets.items():
        out[kind] = _bucket(rows)
    out["rare"]["rows"] = [r for r in buckets["rare"] if r["errors"]]
    return out
