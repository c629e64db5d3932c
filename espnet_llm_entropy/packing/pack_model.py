"""Pack an LLM-ASR experiment in ESPnet's format (``espnet2.main_funcs.pack_funcs.pack``).

ESPnet's pack is a zip (or tar) archive holding ``meta.yaml`` (which member
is the training config, which the model file), the files themselves under
the paths they had relative to the working directory, and any ``--option``
files. What an LLM-ASR model needs besides the config and the checkpoint is
staged into one folder next to the pack and added as options:

* ``config.yaml``: the training config with its paths rewritten to point
  into the pack (``llm_conf.path`` to the packed LLM when there is one, a
  ``token_list`` file to the packed inventory) and the build-time init
  options (``speech_encoder_init``, ``ctc_head_init``) cleared: their
  weights are in the checkpoint;
* ``tokens.txt``: the phone inventory (the CTC vocabulary, ``token_list``);
* ``tokenizer/``: the LLM tokenizer files;
* ``llm_identity.yaml``: the base LLM as trained (path and fingerprint,
  :mod:`espnet_llm_entropy.packing.llm_identity`);
* ``llm/``: the base LLM directory itself, only with ``include_llm``.

Paths inside the pack are the members' names, i.e. what ESPnet's
``pack`` stores: relative to the working directory when below it, else the
resolved absolute path without its leading ``/``. The staging folder is
removed afterwards, and the archive is written under a temporary name and
renamed, so ``outpath`` is either absent or complete.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import yaml

from espnet_llm_entropy.packing.llm_identity import (
    IDENTITY_FILE,
    TOKENIZER_FILES,
    make_identity,
    reference_from_checkpoint,
)

logger = logging.getLogger(__name__)

#: Config options whose files are only needed to build a model for training.
INIT_OPTIONS = ("speech_encoder_init", "ctc_head_init")


def member_name(path: Union[str, Path]) -> str:
    """The name ESPnet's ``pack`` gives ``path`` inside the archive."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path(".").resolve()))
    except ValueError:
        return str(resolved).lstrip("/")


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link a file (no copy of a large LLM) or copy it across file systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def read_config(config: Union[str, Path]) -> Dict:
    """The training config as a mapping; errors name the file."""
    with open(config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    if not isinstance(conf, dict):
        raise ValueError(f"{config}: expected a training config (a YAML mapping)")
    return conf


def llm_dir_of(conf: Dict, config: Union[str, Path]) -> Path:
    """``llm_conf.path`` of a training config (relative paths: to the working directory)."""
    path = (conf.get("llm_conf") or {}).get("path")
    if not path:
        raise ValueError(f"{config}: llm_conf.path is not set; is this an LLM-ASR training config?")
    llm_dir = Path(path)
    if not (llm_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{config}: llm_conf.path={path} has no config.json (run stage 14 where the "
            "training ran, from the recipe directory)"
        )
    return llm_dir


def stage_pack_files(
    config: Union[str, Path], model_file: Union[str, Path], staging: Path, include_llm: bool
) -> Path:
    """Write the staging folder (see the module docstring); returns the staged config.

    Raises:
        ValueError / FileNotFoundError: naming the config key or file that is wrong.
    """
    conf = read_config(config)
    llm_dir = llm_dir_of(conf, config)
    reference = reference_from_checkpoint(model_file)
    staging.mkdir(parents=True)

    token_list = conf.get("token_list")
    if isinstance(token_list, str):
        shutil.copyfile(token_list, staging / "tokens.txt")
        conf["token_list"] = member_name(staging / "tokens.txt")
    elif isinstance(token_list, list) and token_list:
        (staging / "tokens.txt").write_text("".join(f"{t}\n" for t in token_list), encoding="utf-8")
    else:
        raise ValueError(f"{config}: token_list (the phone inventory) is missing")

    tokenizer = staging / "tokenizer"
    tokenizer.mkdir()
    copied = [n for n in TOKENIZER_FILES if (llm_dir / n).is_file()]
    if not copied:
        raise FileNotFoundError(f"{config}: llm_conf.path={llm_dir} holds no tokenizer file ({TOKENIZER_FILES})")
    for name in copied:
        shutil.copyfile(llm_dir / name, tokenizer / name)

    packed_llm = None
    if include_llm:
        shutil.copytree(llm_dir, staging / "llm", copy_function=_link_or_copy)
        packed_llm = member_name(staging / "llm")
        conf["llm_conf"]["path"] = packed_llm
    for option in INIT_OPTIONS:
        if conf.get(option):
            conf[option] = None

    identity = make_identity(
        reference, str(llm_dir), (conf.get("llm_conf") or {}).get("gguf_file"), packed_llm
    )
    (staging / IDENTITY_FILE).write_text(yaml.safe_dump(identity, sort_keys=False), encoding="utf-8")
    staged_config = staging / "config.yaml"
    staged_config.write_text(yaml.safe_dump(conf, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return staged_config


def pack_llm_asr(
    config: Union[str, Path],
    model_file: Union[str, Path],
    outpath: Union[str, Path],
    options: Sequence[Union[str, Path]] = (),
    include_llm: bool = False,
    quiet: bool = True,
) -> Path:
    """Pack an LLM-ASR model with ESPnet's ``pack``; returns ``outpath``.

    Args:
        config: the training ``config.yaml`` (a symlink is followed).
        model_file: the checkpoint to pack (``valid.acc.ave.pth`` ...).
        outpath: the archive, ``.zip`` or ``.tar[.gz|.bz2|.xz]``/``.tgz``.
        options: more files or folders (``RESULTS.md``, ``images`` ...).
        include_llm: also pack the base LLM directory.
        quiet: hide ESPnet's ``adding: ...`` lines.

    The archive is written next to ``outpath`` under a temporary name and
    renamed when complete; the staging folder ``<outpath stem>_pack`` is
    removed in any case.
    """
    from espnet2.main_funcs.pack_funcs import pack

    outpath = Path(outpath)
    for path in [config, model_file, *options]:
        if not Path(path).exists():
            raise FileNotFoundError(f"pack: no such file or directory: {path}")
    staging = outpath.parent / f"{outpath.name.split('.')[0]}_pack"
    if staging.exists():
        shutil.rmtree(staging)
    tmp = outpath.parent / f".tmp-{outpath.name}"
    try:
        staged = stage_pack_files(config, model_file, staging, include_llm)
        extra = [p for p in sorted(staging.iterdir()) if p != staged]
        out = io.StringIO() if quiet else None
        with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
            pack(
                files={"asr_model_file": model_file},
                yaml_files={"asr_train_config": staged},
                option=[*options, *extra],
                outpath=tmp,
            )
        os.replace(tmp, outpath)
    finally:
        if tmp.exists():
            tmp.unlink()
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("packed %s (%.1f MB)", outpath, outpath.stat().st_size / 1e6)
    return outpath


def ensure_images(images: Path, model_file: Union[str, Path]) -> Path:
    """Make ``images/`` (asr.sh stage 14 packs it) when the training wrote none.

    ESPnet's trainer plots its learning curves into ``<exp>/images`` with
    ``--use_matplotlib true``; our multi-stage trainings keep each stage in a
    folder of its own. The curves are plotted from the reporter state in the
    ``checkpoint.pth`` next to the (resolved) model file, with ESPnet's own
    ``Reporter.matplotlib_plot``; without that checkpoint or matplotlib the
    folder holds a README saying so.
    """
    if images.exists():
        return images
    tmp = images.parent / f".tmp-{images.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    checkpoint = Path(model_file).resolve().parent / "checkpoint.pth"
    why = None
    try:
        from espnet2.train.reporter import Reporter

        from espnet_llm_entropy.analysis.learning_curves import read_training_state

        reporter = Reporter()
        reporter.load_state_dict(read_training_state(checkpoint)["reporter"])
        reporter.matplotlib_plot(tmp)
    except FileNotFoundError:
        why = f"no {checkpoint} (the training's resume state holds the learning curves)"
    except ImportError as e:
        why = f"matplotlib is not installed ({e})"
    if why or not any(tmp.iterdir()):
        (tmp / "README.txt").write_text(f"No learning curves were plotted: {why or 'no statistics'}.\n")
    os.replace(tmp, images)
    return images


def default_options(exp_dir: Path) -> List[Path]:
    """The extra files asr.sh packs from an experiment: ``RESULTS.md`` and ``images``, where present."""
    return [p for p in (exp_dir / "RESULTS.md", exp_dir / "images") if p.exists()]


def describe_pack(outpath: Path, include_llm: Optional[bool] = None) -> str:
    """One line for logs and reports: name, size, whether the LLM is inside."""
    inside = "" if include_llm is None else (", base LLM inside" if include_llm else ", base LLM not inside")
    return f"{outpath} ({outpath.stat().st_size / 1e6:.1f} MB{inside})"
