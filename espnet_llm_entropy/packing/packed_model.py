"""Open a packed LLM-ASR model anywhere: a pack file or its unpacked folder.

A pack (:mod:`espnet_llm_entropy.packing.pack_model`) is ESPnet's archive
format; its unpacked folder is also the layout of an ESPnet Hugging Face
model repository (``meta.yaml`` at the top, the members under their names).
:func:`open_pack` accepts both. A file is extracted safely: every member is
checked (no absolute names, no ``..``, only regular files), the archive's
checksums are verified while reading, and the files go to a temporary
sibling of the destination that is renamed only when complete, so a corrupt
or truncated pack is a clear error and leaves nothing half-extracted.
Nothing is downloaded: a name that is neither a file nor a folder is an
error.

The folder is never modified; :meth:`PackedModel.resolved_config` gives the
training config with the paths that point into the pack made absolute.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Union

import yaml

from espnet_llm_entropy.packing.llm_identity import (
    IDENTITY_FILE,
    LLMIdentityError,
    check_llm_dir,
    describe,
    tokenizer_mismatches,
)

META_FILE = "meta.yaml"
CONFIG_KEY = "asr_train_config"
MODEL_KEY = "asr_model_file"


class PackError(ValueError):
    """A pack that cannot be read: corrupt, truncated, or not an LLM-ASR pack."""


@dataclass
class PackedModel:
    """An unpacked LLM-ASR pack.

    Attributes:
        source: the pack file or folder given.
        root: the folder holding ``meta.yaml`` and the members.
        config: the training config inside the pack.
        model_file: the checkpoint inside the pack.
        identity: ``llm_identity.yaml``: the base LLM as trained.
        llm_dir: the base LLM inside the pack, or None.
        tokenizer_dir: the LLM tokenizer files inside the pack, or None.
    """

    source: Path
    root: Path
    config: Path
    model_file: Path
    identity: Dict[str, object]
    llm_dir: Optional[Path]
    tokenizer_dir: Optional[Path]

    def base_llm(self, llm_dir: Optional[Union[str, Path]] = None) -> Path:
        """The base LLM directory to build the model with.

        The LLM inside the pack when there is one (``llm_dir`` is then
        ignored, with a warning); otherwise ``llm_dir``, else the path the
        LLM had in training when it still exists there, each checked
        against the pack's fingerprint.

        Raises:
            LLMIdentityError: the directory is not the LLM the pack was trained
                on, or no LLM is available; the message names both.
        """
        if self.llm_dir is not None:
            if llm_dir is not None:
                logging.getLogger(__name__).warning(
                    "%s holds its base LLM; llm_dir=%s is not used", self.source, llm_dir
                )
            return self.llm_dir
        if llm_dir is None:
            trained = Path(str(self.identity.get("resolved_path_as_trained")))
            if not (trained / "config.json").is_file():
                raise LLMIdentityError(
                    f"the pack {self.source} does not hold its base LLM and no llm_dir was given; "
                    f"pass llm_dir=<the LLM it was trained on: {describe(self.identity)}>"
                )
            llm_dir = trained
        llm_dir = check_llm_dir(llm_dir, self.identity, self.source)
        if self.tokenizer_dir is not None:
            differ = tokenizer_mismatches(self.tokenizer_dir, llm_dir)
            if differ:
                raise LLMIdentityError(
                    f"llm_dir {llm_dir}: tokenizer files {differ} differ from the tokenizer in the pack "
                    f"{self.source} ({self.tokenizer_dir}); the model was trained with the packed one"
                )
        return llm_dir

    def member_names(self) -> List[str]:
        """Every file and folder below ``root``, as names relative to it."""
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*")]

    def resolved_config(self, llm_dir: Optional[Path] = None) -> Dict:
        """The training config with every value that names a member made absolute.

        Args:
            llm_dir: the base LLM to use (``llm_conf.path``); None keeps the
                config's (the packed LLM when there is one).
        """
        with open(self.config, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
        names = set(self.member_names())

        def rewrite(value):
            if isinstance(value, dict):
                return {k: rewrite(v) for k, v in value.items()}
            if isinstance(value, list):
                return [rewrite(v) for v in value]
            if isinstance(value, str) and value.lstrip("/") in names:
                return str(self.root / value.lstrip("/"))
            return value

        conf = rewrite(conf)
        if llm_dir is not None:
            conf.setdefault("llm_conf", {})["path"] = str(Path(llm_dir).resolve())
        return conf


def _member_path(name: str, archive: Path) -> PurePosixPath:
    """A member name as a safe relative path (raises PackError otherwise)."""
    path = PurePosixPath(name.lstrip("/"))
    if not path.parts or ".." in path.parts:
        raise PackError(f"{archive}: member {name!r} would extract outside the destination")
    return path


def _members(archive: Path):
    """(name, reader) of each regular-file member of a zip or tar pack."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    with zf.open(info) as f:  # CRC checked at the end of the read
                        yield info.filename, f
        return
    with tarfile.open(archive) as tf:
        for info in tf:
            if info.isdir():
                continue
            if not info.isfile():
                raise PackError(f"{archive}: member {info.name!r} is not a regular file (links are refused)")
            yield info.name, tf.extractfile(info)


def extract_pack(archive: Union[str, Path], dest: Union[str, Path]) -> Path:
    """Extract ``archive`` into ``dest`` (created; must not exist), all or nothing.

    Raises:
        PackError: the file is not a zip/tar archive, is truncated or corrupt
            (checksum), lacks ``meta.yaml`` or names a member unsafely;
            ``dest`` is then absent.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"pack {archive}: no such file")
    if dest.exists():
        raise FileExistsError(f"{dest} exists; not extracting {archive} over it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        count = 0
        for name, reader in _members(archive):
            target = tmp / _member_path(name, archive)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(reader, out)
            count += 1
        if not (tmp / META_FILE).is_file():
            raise PackError(f"{archive}: no {META_FILE} at the top (not an ESPnet pack)")
        os.replace(tmp, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as e:
        raise PackError(f"pack {archive} is corrupt or truncated ({type(e).__name__}: {e}); nothing extracted") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def default_unpack_dir(archive: Path) -> Path:
    """Where a pack is extracted when no folder is given: a cache keyed by its content."""
    from espnet_llm_entropy.fileio.atomic import sha256_of

    cache = Path(os.environ.get("ESPNET_LLM_ENTROPY_CACHE", Path.home() / ".cache" / "espnet_llm_entropy"))
    stem = archive.name.split(".")[0]
    return cache / "packs" / f"{stem}-{sha256_of(archive)[:16]}"


def read_unpacked(root: Path, source: Path) -> PackedModel:
    """Read the ``meta.yaml`` of an unpacked folder; errors name the missing member."""
    meta_file = root / META_FILE
    if not meta_file.is_file():
        raise PackError(f"{source}: no {META_FILE} in {root} (not an ESPnet pack or model repository)")
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    entries = {**(meta.get("yaml_files") or {}), **(meta.get("files") or {})}
    paths = {}
    for key in (CONFIG_KEY, MODEL_KEY):
        if key not in entries:
            raise PackError(f"{meta_file}: no '{key}' entry (not an ASR pack)")
        paths[key] = root / str(entries[key]).lstrip("/")
        if not paths[key].is_file():
            raise PackError(f"{meta_file}: {key} {entries[key]} is not in the pack")
    identities = sorted(root.rglob(IDENTITY_FILE))
    if len(identities) != 1:
        raise PackError(
            f"{source}: expected one {IDENTITY_FILE} (the base LLM's identity), found {len(identities)}; "
            "pack LLM-ASR models with espnet_llm_entropy.bin.llm_asr_pack"
        )
    identity = yaml.safe_load(identities[0].read_text(encoding="utf-8")) or {}
    packed = identity.get("packed_path")
    llm_dir = root / str(packed).lstrip("/") if packed else None
    if llm_dir is not None and not (llm_dir / "config.json").is_file():
        raise PackError(f"{identities[0]}: packed_path {packed} is not in the pack")
    tokenizer = identities[0].parent / "tokenizer"
    return PackedModel(
        source=source, root=root, config=paths[CONFIG_KEY], model_file=paths[MODEL_KEY],
        identity=identity, llm_dir=llm_dir, tokenizer_dir=tokenizer if tokenizer.is_dir() else None,
    )


def open_pack(pack_or_dir: Union[str, Path], unpack_dir: Optional[Union[str, Path]] = None) -> PackedModel:
    """Open a pack file (extracting it) or an unpacked pack folder.

    Args:
        pack_or_dir: a ``.zip``/``.tar*`` pack, or a folder with ``meta.yaml``
            (an unpacked pack, an ESPnet Hugging Face model repository).
        unpack_dir: where to extract a pack file; reused when it already holds
            an extracted pack. Default: a cache folder keyed by the pack's
            sha256 (``$ESPNET_LLM_ENTROPY_CACHE``, else
            ``~/.cache/espnet_llm_entropy``).

    Raises:
        FileNotFoundError: ``pack_or_dir`` does not exist (nothing is downloaded).
        PackError: see :func:`extract_pack` and :func:`read_unpacked`.
    """
    source = Path(pack_or_dir)
    if source.is_dir():
        return read_unpacked(source, source)
    if not source.is_file():
        raise FileNotFoundError(
            f"{pack_or_dir}: no such pack file or folder (loading from a model hub is not done here: "
            "download the repository first and pass its folder)"
        )
    dest = Path(unpack_dir) if unpack_dir is not None else default_unpack_dir(source)
    if not (dest / META_FILE).is_file():
        if dest.exists() and any(dest.iterdir()):
            raise FileExistsError(f"unpack_dir {dest} is not empty and holds no {META_FILE}; choose another")
        if dest.exists():
            dest.rmdir()
        extract_pack(source, dest)
    return read_unpacked(dest, source)
