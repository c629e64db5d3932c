"""Published speech-encoder versions: atomic writing, verified reading.

A publication directory holds, per version N (1, 2, ...):

* ``encoder_v<N>.pth``: the ``speech_encoder`` state dict (bare keys, so
  ``--speech_encoder_init`` accepts it too);
* ``encoder_v<N>.json``: the record (:class:`EncoderVersion`): version,
  pretraining step, CKA against the previous reference, time, sha256 of
  the ``.pth``.

Both are written under a temporary name and renamed; the record is written
after the weights, so a reader that sees a record always finds complete
weights (a record is the commit point). A record whose weights are missing
or do not match its sha256 is therefore never "still being written": it is a
damaged publication, reported as :class:`EncoderVersionChecksumError`
naming the file, both checksums and the way out.

The publishing job also keeps ``writer.json`` (:func:`write_writer_status`):
its pid, host, a heartbeat time and whether it has finished, so that a
consumer running next to it can tell a live writer from a dead one
(:func:`writer_is_alive`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

from espnet_llm_entropy.fileio.atomic import sha256_of, write_bytes_atomic, write_json_atomic

RECORD_PATTERN = re.compile(r"^encoder_v(\d+)\.json$")
WRITER_FILE = "writer.json"
_RECORD_FIELDS = ("version", "pretrain_step", "cka", "reference_version", "time", "unix_time",
                  "sha256", "weights", "final")


@dataclass(frozen=True)
class EncoderVersion:
    """Record of one published encoder version.

    Attributes:
        version: 1, 2, ...
        pretrain_step: pretraining optimizer steps done when it was taken.
        cka: linear CKA between it and the previous reference on the probe
            set (None when there was no reference, e.g. a final version
            published before any check).
        reference_version: the version it was compared with (0 = the
            snapshot taken at the reference start step).
        time: UTC ISO time of publication; unix_time the same as a number.
        sha256: checksum of the weights file.
        weights: file name of the weights, relative to the directory.
        final: True for the version published when pretraining ended.
    """

    version: int
    pretrain_step: int
    cka: Optional[float]
    reference_version: Optional[int]
    time: str
    unix_time: float
    sha256: str
    weights: str
    final: bool


class EncoderVersionChecksumError(ValueError):
    """A published version's weights are missing or do not match the sha256 in its record.

    Attributes:
        weights_path: the ``encoder_v<N>.pth`` file.
        record_path: its ``encoder_v<N>.json`` record.
        recorded: the sha256 the record promises.
        actual: the sha256 of the file as it is (None when it is missing).
    """

    def __init__(self, weights_path: Path, record_path: Path, recorded: str, actual: Optional[str]):
        self.weights_path, self.record_path = Path(weights_path), Path(record_path)
        self.recorded, self.actual = recorded, actual
        found = "is missing" if actual is None else f"has sha256 {actual}"
        super().__init__(
            f"{weights_path}: this published encoder version {found}, but its record {record_path} "
            f"says sha256 {recorded} (the file is truncated, damaged or was replaced after "
            f"publication). Way out: restore it (copy {self.weights_path.name} again from the "
            f"pretraining run's publication directory, or re-publish it from the pretraining "
            f"checkpoint), or remove the record {self.record_path.name} so that this version is "
            f"not used."
        )


def weights_name(version: int) -> str:
    return f"encoder_v{version}.pth"


def record_name(version: int) -> str:
    return f"encoder_v{version}.json"


def publish_encoder_version(
    publish_dir: Union[str, Path],
    encoder_state: Dict[str, torch.Tensor],
    version: int,
    pretrain_step: int,
    cka: Optional[float],
    reference_version: Optional[int],
    final: bool = False,
) -> EncoderVersion:
    """Publish ``encoder_state`` as version ``version`` (weights first, then the record).

    Raises:
        FileExistsError: a record for this version already exists.
    """
    publish_dir = Path(publish_dir)
    if (publish_dir / record_name(version)).exists():
        raise FileExistsError(f"encoder version {version} is already published in {publish_dir}")
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in encoder_state.items()}, buffer)
    data = buffer.getvalue()
    write_bytes_atomic(publish_dir / weights_name(version), data)
    now = time.time()
    record = EncoderVersion(
        version=version,
        pretrain_step=int(pretrain_step),
        cka=None if cka is None else float(cka),
        reference_version=reference_version,
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        unix_time=now,
        sha256=hashlib.sha256(data).hexdigest(),
        weights=weights_name(version),
        final=final,
    )
    write_json_atomic(publish_dir / record_name(version), asdict(record))
    return record


def parse_record(path: Path) -> EncoderVersion:
    """Read and validate one record file (ValueError naming the file and field)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable encoder record ({e})") from e
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object")
    missing = [k for k in _RECORD_FIELDS if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing fields {missing}")
    record = EncoderVersion(**{k: raw[k] for k in _RECORD_FIELDS})
    match = RECORD_PATTERN.match(Path(path).name)
    if match is None or int(match.group(1)) != record.version:
        raise ValueError(f"{path}: version field {record.version} does not match the file name")
    return record


def checksum_error(publish_dir: Path, record: EncoderVersion) -> Optional[EncoderVersionChecksumError]:
    """None when the weights file exists and matches the record's sha256, else the error to raise."""
    path = Path(publish_dir) / record.weights
    actual = sha256_of(path) if path.is_file() else None
    if actual == record.sha256:
        return None
    return EncoderVersionChecksumError(path, Path(publish_dir) / record_name(record.version), record.sha256, actual)


def verify_weights(publish_dir: Path, record: EncoderVersion) -> Optional[str]:
    """None when the weights file exists and matches the checksum, else the reason."""
    error = checksum_error(publish_dir, record)
    return None if error is None else str(error)


def read_published_versions(
    publish_dir: Union[str, Path], verify: bool = True
) -> Tuple[List[EncoderVersion], List[str]]:
    """Complete versions in ``publish_dir`` (sorted) and reasons for skipped ones.

    Args:
        publish_dir: the publication directory (may not exist yet).
        verify: check each weights file against its sha256.

    Returns:
        (records sorted by version, problems): a record that cannot be
        parsed or whose weights are missing/corrupt is left out and
        described in ``problems``; a later call may find it complete.
    """
    publish_dir = Path(publish_dir)
    if not publish_dir.is_dir():
        return [], []
    records, problems = [], []
    for path in sorted(publish_dir.iterdir()):
        if not RECORD_PATTERN.match(path.name):
            continue
        try:
            record = parse_record(path)
        except ValueError as e:
            problems.append(str(e))
            continue
        reason = verify_weights(publish_dir, record) if verify else None
        if reason is not None:
            problems.append(reason)
            continue
        records.append(record)
    records.sort(key=lambda r: r.version)
    return records, problems


def load_encoder_version(publish_dir: Union[str, Path], record: EncoderVersion) -> Dict[str, torch.Tensor]:
    """Checksum-verified ``weights_only`` load of a published encoder state dict.

    Raises:
        EncoderVersionChecksumError: the weights are missing or do not match
            the record's sha256.
        ValueError: the weights cannot be read or are not a state dict.
    """
    path = Path(publish_dir) / record.weights
    record_path = Path(publish_dir) / record_name(record.version)
    if not path.is_file():
        raise EncoderVersionChecksumError(path, record_path, record.sha256, None)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read encoder version {record.version} ({e})") from e
    actual = hashlib.sha256(data).hexdigest()
    if actual != record.sha256:
        raise EncoderVersionChecksumError(path, record_path, record.sha256, actual)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise ValueError(f"{path}: not a loadable state dict ({e})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a speech_encoder state dict)")
    return state


def record_age_s(publish_dir: Union[str, Path], record: EncoderVersion) -> float:
    """Seconds since ``record`` was published (its ``unix_time``; the file's mtime if later)."""
    path = Path(publish_dir) / record_name(record.version)
    written = record.unix_time
    try:
        written = max(written, path.stat().st_mtime)
    except OSError:
        pass
    return time.time() - written


def write_writer_status(publish_dir: Union[str, Path], finished: bool = False,
                        checked_step: Optional[int] = None, next_check_step: Optional[int] = None) -> None:
    """The publishing job's heartbeat: ``writer.json`` with pid, host, time, ``finished``,
    ``checked_step``: the last pretraining step whose check (and publication, if any) is
    complete, so every version up to that step is on disk (None: not known), and
    ``next_check_step``: the earliest step at which the next version can be published
    (None: not known, any step after ``checked_step``)."""
    now = time.time()
    write_json_atomic(Path(publish_dir) / WRITER_FILE, {
        "pid": os.getpid(), "host": socket.gethostname(), "heartbeat_unix_time": now,
        "heartbeat": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "finished": bool(finished),
        "checked_step": checked_step, "next_check_step": next_check_step,
    })


def earliest_unpublished_step(status: Mapping) -> Optional[int]:
    """The earliest pretraining step at which a version not yet on disk can be published, from a
    ``writer.json`` status: its ``next_check_step``, else the step after ``checked_step``
    (None: neither is known)."""
    if status.get("next_check_step") is not None:
        return int(status["next_check_step"])
    if status.get("checked_step") is not None:
        return int(status["checked_step"]) + 1
    return None


def read_writer_status(publish_dir: Union[str, Path]) -> Optional[Dict]:
    """``writer.json`` of ``publish_dir`` as a dict (None: absent or unreadable)."""
    try:
        status = json.loads((Path(publish_dir) / WRITER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def process_is_running(pid: int) -> bool:
    """Whether a process ``pid`` exists (and is not a zombie) on this host."""
    if pid <= 0:  # os.kill would address a process group
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, ValueError, OverflowError):
        return False
    try:  # a finished child its parent has not reaped yet
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def writer_is_alive(publish_dir: Union[str, Path], stale_after_s: float) -> bool:
    """Whether a publishing job is still running on ``publish_dir``.

    Alive means: ``writer.json`` exists, is not marked finished, and either
    names a process of this host that still exists, or (another host) its
    heartbeat is younger than ``stale_after_s``. No writer file (versions
    copied from a finished run, or an older publisher) means no writer.
    """
    status = read_writer_status(publish_dir)
    if status is None or status.get("finished", True):
        return False
    if status.get("host") == socket.gethostname():
        try:
            return process_is_running(int(status.get("pid", -1)))
        except (TypeError, ValueError):
            return False
    return time.time() - float(status.get("heartbeat_unix_time", 0.0)) < stale_after_s
