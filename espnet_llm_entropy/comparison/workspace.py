"""The data every paradigm of a comparison shares: data dirs, LLM, token lists, statistics.

A workspace is either built from the bundled mini corpus
(:func:`build_mini_workspace`, the demo's first four steps) or given by the
caller (a recipe passes asr.sh's dump dirs, token list, statistics and LLM).
Character units need their own token list and shape statistics; they are
derived from the training text on first use (:func:`ensure_units`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_llm_entropy.llm.template_lm import TemplateLMConfig
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.pipeline.demo_pipeline import DEFAULT_NUM_TRAIN


@dataclass
class ComparisonWorkspace:
    """Shared inputs of a comparison.

    Attributes:
        root: where derived files (character token list, statistics) go.
        train_dir, valid_dir, test_dir: Kaldi data dirs.
        nonspeech_dir: Kaldi dir of non-speech clips (no text), or None.
        llm_dir: local Hugging Face causal LM (with its tokenizer).
        token_lists: unit (``phone``/``char``) -> token list file.
        stats_dirs: unit -> ESPnet collect-stats dir (shape files).
        stats_config: ESPnet config used to collect statistics for new units.
    """

    root: Path
    train_dir: Path
    valid_dir: Path
    test_dir: Path
    llm_dir: Path
    token_lists: Dict[str, Path]
    stats_dirs: Dict[str, Path]
    stats_config: Path
    nonspeech_dir: Optional[Path] = None

    def check(self) -> None:
        """Raise FileNotFoundError naming the first missing input."""
        needed = {
            "train dir": self.train_dir / "wav.scp", "valid dir": self.valid_dir / "wav.scp",
            "test dir": self.test_dir / "text", "LLM dir": self.llm_dir / "config.json",
            "statistics config": self.stats_config,
        }
        for unit, path in self.token_lists.items():
            needed[f"{unit} token list"] = path
        for unit, path in self.stats_dirs.items():
            needed[f"{unit} statistics"] = path / "train" / "speech_shape"
        if self.nonspeech_dir is not None:
            needed["non-speech dir"] = self.nonspeech_dir / "wav.scp"
        for what, path in needed.items():
            if not Path(path).exists():
                raise FileNotFoundError(f"comparison workspace: {what} not found: {path}")

    def to_json(self) -> str:
        """The workspace as JSON (every path absolute), read back by :meth:`from_json`."""
        def absolute(path):
            return None if path is None else str(Path(path).resolve())

        data = {name: absolute(getattr(self, name)) for name in _path_fields()}
        data.update({name: {unit: absolute(path) for unit, path in getattr(self, name).items()}
                     for name in _UNIT_FIELDS})
        return json.dumps(data, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, source: str = "workspace JSON") -> "ComparisonWorkspace":
        """Inverse of :meth:`to_json`; a missing or unknown key is a ValueError naming ``source``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}: not valid JSON: {err}") from None
        expected = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != expected:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{source}: expected the keys {sorted(expected)}, got {keys}")
        values = {name: None if data[name] is None else Path(data[name]) for name in _path_fields()}
        values.update({name: {unit: Path(path) for unit, path in data[name].items()} for name in _UNIT_FIELDS})
        return cls(**values)


#: Fields of :class:`ComparisonWorkspace` that map a unit to a path; every other field is one path.
_UNIT_FIELDS = ("token_lists", "stats_dirs")


def _path_fields():
    return [f.name for f in fields(ComparisonWorkspace) if f.name not in _UNIT_FIELDS]


def ensure_units(ws: ComparisonWorkspace, unit: str) -> None:
    """Make sure ``ws`` has a token list and statistics for ``unit`` (building char ones).

    Character units: the token list comes from the training text
    (``text_to_phones --unit char --inventory``), the statistics from ESPnet's
    collect-stats with ``--phonemizer_conf unit=char``. Both are written
    once, under ``ws.root``.
    """
    if unit in ws.token_lists and unit in ws.stats_dirs:
        return
    if unit != "char":
        raise ValueError(f"the workspace has no {unit!r} token list/statistics and cannot derive them")
    ws.root.mkdir(parents=True, exist_ok=True)
    token_list = ws.root / "chars.txt"
    if not token_list.exists():
        logging.info("building the character token list %s", token_list)
        espnet_steps.run_entry_point(
            "text_to_phones",
            ["--unit", "char", "--in", ws.train_dir / "text", "--out", ws.root / "train.chars",
             "--inventory", token_list],
        )
    stats_dir = ws.root / "stats_char"
    if not (stats_dir / "train" / "speech_shape").exists():
        logging.info("collecting statistics for character units into %s", stats_dir)
        espnet_steps.collect_stats(
            ws.stats_config, token_list, ws.train_dir, ws.valid_dir, stats_dir,
            extra=["--phonemizer_conf", "unit=char"], in_process=False,
            log_file=ws.root / "stats_char.log",
        )
    ws.token_lists["char"] = token_list
    ws.stats_dirs["char"] = stats_dir


def build_mini_workspace(root: Path, num_train: int = DEFAULT_NUM_TRAIN, num_dev: int = 60, num_test: int = 60,
                         seed: int = 0, llm_pretrain_steps: int = TemplateLMConfig.steps,
                         an4_dir: Optional[Path] = None, units: Sequence[str] = ("phone",)) -> ComparisonWorkspace:
    """The bundled mini corpus, phone inventory, tiny LLM and statistics (resumable).

    Runs the demo's ``corpus``, ``phones``, ``llm`` and ``stats`` steps in
    ``root`` (a finished step is skipped when called again); ``an4_dir``
    (ESPnet's mini_an4 archive) adds AN4 noise to the non-speech sets.
    Other ``units`` than phones (:func:`ensure_units`) are derived in a
    second thread while the LLM trains: their statistics are a subprocess,
    so the two use both cores of a 2-core machine.
    """
    from concurrent.futures import ThreadPoolExecutor

    from espnet_llm_entropy.conf import stage_config
    from espnet_llm_entropy.pipeline.demo_pipeline import Demo, DemoConfig

    demo = Demo(DemoConfig(out_dir=root, seed=seed, num_train=num_train, num_dev=num_dev,
                           num_test=num_test, llm_pretrain_steps=llm_pretrain_steps, an4_dir=an4_dir))
    steps = [step for step in demo.steps if step[0] in ("corpus", "phones", "stats")]
    steps.insert(2, ("llm", demo.make_llm))
    demo.steps = steps[:2]
    demo.run()
    data = demo.data
    ws = ComparisonWorkspace(
        root=demo.root, train_dir=data / "train", valid_dir=data / "dev", test_dir=data / "test",
        nonspeech_dir=data / "nonspeech" if (data / "nonspeech" / "wav.scp").exists() else None,
        llm_dir=demo.root / "llm", token_lists={"phone": demo.root / "phones.txt"},
        stats_dirs={"phone": demo.root / "stats"}, stats_config=stage_config("pretrain"),
    )
    # ensure_units adds to ws's dicts only after its files exist; nothing else reads them meanwhile
    with ThreadPoolExecutor(max_workers=1) as pool:
        derived = [pool.submit(ensure_units, ws, unit) for unit in units if unit != "phone"]
        demo.steps = steps[2:]
        demo.run()
        for future in derived:
            future.result()
    return ws
