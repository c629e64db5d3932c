"""Python prefix for ESPnet's ``asr.sh``: reach our entry points through ``--python``.

``asr.sh`` runs every python step as ``${python} -m espnet2.bin.<tool> ARGS``
(and a few as ``${python} <script.py> ARGS``). Given

    ./asr.sh --python "python3 -m espnet_llm_entropy.bin.asr_sh_python [OPTIONS]" ...

each such call becomes ``python3 -m espnet_llm_entropy.bin.asr_sh_python
[OPTIONS] -m espnet2.bin.<tool> ARGS``, and this module

* swaps in our entry points where asr.sh trains or decodes an ASR model
  (:data:`ROUTES`): ``espnet2.bin.asr_train`` -> ``llm_asr_train`` (stage 10
  statistics and stage 11 training), ``espnet2.bin.asr_inference`` ->
  ``llm_asr_inference`` (stage 12), ``espnet2.bin.pack`` -> ``llm_asr_pack``
  (stage 14: the pack gains the phone inventory, the LLM tokenizer, the
  base LLM's identity and, with the prefix option ``--pack_llm true``, the
  base LLM itself; a missing ``images/`` is plotted first);
* with ``--method_config FILE``, sends stage-11 training (``asr_train``
  without ``--collect_stats true``) to the multi-stage trainer
  ``espnet_llm_entropy.bin.train_method`` instead (see
  :func:`method_trainer_args`: asr.sh's arguments become train_method's,
  FILE adds its stage configs, and afterwards :func:`link_final_stage` links
  the final stage's ``config.yaml`` and model files into asr.sh's
  ``asr_exp``, where stage 12 decodes from);
* registers our classes in ESPnet's ASR ClassChoices before any other module
  that builds ASR models (e.g. ``espnet2.bin.pack``);
* runs everything else unchanged with :mod:`runpy` (``tokenize_text``,
  ``aggregate_stats_dirs``, ``launch`` ...). ``espnet2.bin.launch`` receives
  the full command after ``--``, prefix included, so the training job it
  starts goes through this module again.

Nothing in ESPnet is edited; with no prefix asr.sh behaves as before.
"""

from __future__ import annotations

import logging
import os
import re
import runpy
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

#: ESPnet module asr.sh names -> our module that takes the same arguments.
ROUTES: Dict[str, str] = {
    "espnet2.bin.asr_train": "espnet_llm_entropy.bin.llm_asr_train",
    "espnet2.bin.asr_inference": "espnet_llm_entropy.bin.llm_asr_inference",
    "espnet2.bin.pack": "espnet_llm_entropy.bin.llm_asr_pack",
}

#: Options of this prefix (before ``-m``) and what their value is.
PREFIX_OPTIONS: Dict[str, str] = {
    "method_config": "a file path",
    "pack_llm": "true or false",
}

#: Multi-stage trainer used for stage 11 when ``--method_config`` is given.
METHOD_TRAINER = "espnet_llm_entropy.bin.train_method"

#: Model files an ESPnet training writes (``3epoch.pth``, ``latest.pth``,
#: ``valid.acc.ave.pth``, ``train.loss.best.pth`` ...); not ``checkpoint.pth``
#: (resume state) nor other files a stage keeps next to them.
MODEL_FILE = re.compile(r"^(\d+epoch|latest|(valid|train)\..+)\.pth$")

#: ESPnet tools that never build an ASR model: run without importing our
#: package (each python process asr.sh starts pays its imports; stage 13
#: alone runs tokenize_text many times).
NO_REGISTRATION = frozenset(
    {
        "espnet2.bin.tokenize_text",
        "espnet2.bin.aggregate_stats_dirs",
        "espnet2.bin.launch",
        "espnet2.bin.split_scps",
        "espnet2.bin.hugging_face_export_vocabulary",
        "espnet2.bin.whisper_export_vocabulary",
    }
)


@dataclass
class Invocation:
    """What one prefixed call asks for.

    Attributes:
        kind: "module" (``-m NAME``), "script" (a file path) or "code" (``-c``).
        target: the module name, script path or code string.
        args: the arguments after it, unchanged.
        method_config: the prefix's ``--method_config`` (None if not given).
        pack_llm: the prefix's ``--pack_llm`` ("true"/"false", None if not given).
    """

    kind: str
    target: str
    args: List[str]
    method_config: Optional[str] = None
    pack_llm: Optional[str] = None


def parse_invocation(argv: Sequence[str]) -> Invocation:
    """Split ``[PREFIX OPTIONS] (-m MODULE | -c CODE | SCRIPT) ARGS``.

    Args:
        argv: the command line after ``python -m espnet_llm_entropy.bin.asr_sh_python``.

    Raises:
        SystemExit: (via argparse-like error) when no module/script is named
            or a prefix option lacks its value.
    """
    argv = list(argv)
    prefix: Dict[str, Optional[str]] = {name: None for name in PREFIX_OPTIONS}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-m", "-c"):
            if i + 1 >= len(argv):
                _fail(f"{arg} needs a value (got nothing after it)")
            kind = "module" if arg == "-m" else "code"
            return Invocation(kind, argv[i + 1], argv[i + 2 :], **prefix)
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if name in PREFIX_OPTIONS:
            if "=" in arg:
                value = arg.split("=", 1)[1]
                i += 1
            else:
                if i + 1 >= len(argv):
                    _fail(f"--{name} needs {PREFIX_OPTIONS[name]}")
                value = argv[i + 1]
                i += 2
            if not value:
                _fail(f"--{name} needs {PREFIX_OPTIONS[name]} (got an empty string)")
            if name == "pack_llm" and value not in ("true", "false"):
                _fail(f"--pack_llm {value!r}: expected true or false")
            prefix[name] = value
            continue
        if arg in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        if arg.startswith("-"):
            _fail(f"unknown prefix option {arg!r}; expected --method_config FILE, --pack_llm true|false, "
                  "then -m MODULE, -c CODE or a script")
        return Invocation("script", arg, argv[i + 1 :], **prefix)
    _fail("nothing to run: expected -m MODULE, -c CODE or a script path")
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    sys.stderr.write(f"espnet_llm_entropy.bin.asr_sh_python: error: {message}\n")
    raise SystemExit(2)


def is_collect_stats(args: Sequence[str]) -> bool:
    """Whether asr.sh's ``--collect_stats`` (stage 10) is set to true in ``args``."""
    value = None
    for i, arg in enumerate(args):
        if arg == "--collect_stats" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--collect_stats="):
            value = arg.split("=", 1)[1]
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def resolve(invocation: Invocation) -> Tuple[str, List[str], bool]:
    """Which module to run, with which arguments, and whether to register first.

    Returns:
        (module name, its argument list, register our plugin first).
    """
    module, args = invocation.target, list(invocation.args)
    if module == "espnet2.bin.asr_train" and invocation.method_config and not is_collect_stats(args):
        return METHOD_TRAINER, method_trainer_args(args, invocation.method_config), True
    if module == "espnet2.bin.pack" and invocation.pack_llm is not None and args[:1] == ["asr"]:
        return ROUTES[module], [*args, "--include_llm", invocation.pack_llm], True
    if module in ROUTES:
        return ROUTES[module], args, True
    return module, args, module not in NO_REGISTRATION


def split_options(args: Sequence[str]) -> List[Tuple[str, str]]:
    """asr.sh's ``--name value`` / ``--name=value`` arguments as (name, value) pairs, in order.

    Raises:
        ValueError: on a token that is not an option or an option without a value.
    """
    pairs, i = [], 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ValueError(f"asr.sh training argument {i}: expected --name, got {arg!r}")
        if "=" in arg:
            name, value = arg[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise ValueError(f"asr.sh training argument {arg} has no value")
            name, value = arg[2:], args[i + 1]
            i += 2
        pairs.append((name, value))
    return pairs


def _data_dir(value: str, option: str) -> str:
    path, name, _ = (value.split(",") + ["", ""])[:3]
    if Path(path).name != "wav.scp":
        raise ValueError(
            f"--{option} {value}: the method trainer reads <data dir>/wav.scp and <data dir>/text; "
            "asr.sh must use --feats_type raw and --num_splits_asr 1"
        )
    return str(Path(path).parent)


def method_trainer_args(asr_args: Sequence[str], method_config: str) -> List[str]:
    """asr.sh's stage-11 ``asr_train`` arguments -> ``train_method`` arguments.

    Taken from asr.sh: ``--output_dir`` (-> ``--exp_dir``), ``--token_list``, ``--ngpu``
    (train_method's device policy gives each stage process its share),
    the speech entries of ``--{train,valid}_data_path_and_name_and_type``
    (-> ``--train_dir``/``--valid_dir``), the speech shape file (-> its
    statistics dir ``--stats_dir``) and ``--llm_conf path=`` (-> ``--llm_dir``).
    Dropped: ``--config`` (the statistics config; the stages have their own),
    text entries and shape files, ``--resume``, ``--use_preprocessor``.
    Every other option (``--frontend_conf fs=..``, ``--normalize``, asr.sh's
    ``--asr_args`` such as ``--max_epoch`` ...) goes to every stage through
    ``--<stage>_args``, after the stage options of the method config.

    The method config is YAML whose keys are train_method options without
    ``--`` (e.g. ``mode``, ``pretrain_config``, ``ia_sft_args``); lists give
    several values, booleans ``true``/``false``.

    Raises:
        ValueError: naming the option or the method config key that is wrong.
    """
    import yaml

    from espnet_llm_entropy.train.stage_schedule import STAGES

    with open(method_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    if not isinstance(conf, dict):
        raise ValueError(f"{method_config}: expected a mapping of train_method options")
    taken: Dict[str, str] = {}
    forwarded: List[str] = []
    for name, value in split_options(asr_args):
        if name in ("output_dir", "token_list", "ngpu"):
            # --ngpu: train_method's device policy splits the GPUs between its processes
            taken["exp_dir" if name == "output_dir" else name] = value
        elif name in ("train_data_path_and_name_and_type", "valid_data_path_and_name_and_type"):
            if value.split(",")[1:2] == ["speech"]:
                taken[name.split("_")[0] + "_dir"] = _data_dir(value, name)
        elif name == "train_shape_file":
            if Path(value).name == "speech_shape":
                taken["stats_dir"] = str(Path(value).parent.parent)
        elif name in ("config", "valid_shape_file", "resume", "use_preprocessor"):
            continue
        else:
            if name == "llm_conf" and "path=" in value:
                taken["llm_dir"] = value.split("path=", 1)[1].split(",", 1)[0]
            forwarded += [f"--{name}", value]
    missing = [k for k in ("exp_dir", "token_list", "train_dir", "valid_dir", "stats_dir", "llm_dir") if k not in taken]
    if missing:
        raise ValueError(
            f"asr.sh's training command lacks what train_method needs: {missing} "
            "(llm_dir comes from llm_asr.sh --llm_dir, i.e. --llm_conf path=DIR)"
        )
    out: List[str] = []
    for key, value in taken.items():
        out += [f"--{key}", value]
    stage_args = {f"{s}_args": "" for s in STAGES}
    for key, value in conf.items():
        if key in taken:
            raise ValueError(f"{method_config}: key '{key}' comes from asr.sh; remove it")
        if key in stage_args:
            stage_args[key] = str(value)
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        out += [f"--{key}", *values]
    for key, value in stage_args.items():
        joined = " ".join(x for x in (value, shlex.join(forwarded)) if x)
        if joined:
            out.append(f"--{key}={joined}")  # '=': argparse must not read the value as options
    return out


def link_final_stage(method_args: Sequence[str]) -> List[Path]:
    """Link the last stage's ``config.yaml`` and model files into ``--exp_dir`` (asr.sh's asr_exp).

    asr.sh's stage 12 decodes ``<asr_exp>/config.yaml`` with
    ``<asr_exp>/<inference_asr_model>``; the method's final model lives in
    ``<asr_exp>/<last stage>/``. Relative symlinks; existing links are
    replaced, real files are never overwritten.

    Returns:
        The links made.
    """
    from espnet_llm_entropy.train.stage_schedule import METHOD_STAGES

    exp_dir, stages, i = None, list(METHOD_STAGES), 0
    while i < len(method_args):
        if method_args[i] == "--exp_dir":
            exp_dir = Path(method_args[i + 1])
        elif method_args[i] == "--stages":
            stages = []
            j = i + 1
            while j < len(method_args) and not method_args[j].startswith("--"):
                stages.append(method_args[j])
                j += 1
        i += 1
    if exp_dir is None:
        raise ValueError("train_method arguments lack --exp_dir")
    final = exp_dir / stages[-1]
    files = sorted(p for p in final.glob("*.pth") if MODEL_FILE.match(p.name))
    if not (final / "config.yaml").is_file() or not files:
        raise FileNotFoundError(f"{final}: no config.yaml or model file after train_method")
    links = []
    for src in [final / "config.yaml", *files]:
        dst = exp_dir / src.name
        if dst.exists() and not dst.is_symlink():
            raise FileExistsError(f"{dst} is a real file; not replacing it with a link to {src}")
        tmp = exp_dir / f".{src.name}.link"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(os.path.join(final.name, src.name), tmp)
        os.replace(tmp, dst)
        links.append(dst)
    logging.getLogger(__name__).info("linked %d files of %s into %s", len(links), final, exp_dir)
    return links


def run_module(module: str, args: List[str], register: bool) -> None:
    """Run ``module`` as ``__main__`` with ``args`` (our entry points via ``main``)."""
    if register:
        import contextlib

        import espnet_llm_entropy

        with contextlib.redirect_stdout(sys.stderr):
            espnet_llm_entropy.register()
    if module.startswith("espnet_llm_entropy.bin."):
        import importlib

        try:
            entry = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                raise SystemExit(
                    f"espnet_llm_entropy.bin.asr_sh_python: {module} is not available in this "
                    "installation; drop --method_config from asr.sh's --python to train a single "
                    "LLM-ASR model with the --asr_config"
                ) from e
            raise
        logging.getLogger(__name__).debug("asr_sh_python: %s %s", module, args)
        sys.argv = [module, *args]
        result = entry.main(args)
        if isinstance(result, int) and result != 0:
            raise SystemExit(result)
        if module == METHOD_TRAINER:
            link_final_stage(args)
        return
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def main(cmd: Optional[List[str]] = None) -> None:
    """Run one asr.sh python call (see the module docstring)."""
    invocation = parse_invocation(sys.argv[1:] if cmd is None else cmd)
    if invocation.kind == "code":
        sys.argv = ["-c", *invocation.args]
        exec(compile(invocation.target, "<string>", "exec"), {"__name__": "__main__"})
        return
    if invocation.kind == "script":
        sys.argv = [invocation.target, *invocation.args]
        runpy.run_path(invocation.target, run_name="__main__")
        return
    module, args, register = resolve(invocation)
    run_module(module, args, register)


if __name__ == "__main__":
    main()
