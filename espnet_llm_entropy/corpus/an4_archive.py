"""Read ESPnet's mini_an4 archive (``downloads.tar.gz``) without unpacking it.

The archive holds CMU AN4 recordings as NIST SPHERE files
(``downloads/an4/wav/{an4_clstk,an4test_clstk}/<spk>/<fileid>.sph``), their
transcripts (``downloads/an4/etc/an4_{train,test}.transcription``, lines
``<s> MARCH THIRD </s> (cen8-fbbh-b)``) and two noise recordings
(``downloads/noise/*.wav``). Members are read into memory with
:mod:`tarfile`, so no path from the archive is ever written to disk; member
names are still checked (no absolute path, no ``..``) and anything that is
not a regular file is ignored.
"""

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Tuple

import numpy as np
import soundfile

from espnet_llm_entropy.corpus.wav_io import SAMPLE_RATE, resample

ARCHIVE_NAME = "downloads.tar.gz"
TRANSCRIPTION_FILES = ("an4_train.transcription", "an4_test.transcription")
_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<fileid>[^()\s]+)\)\s*$")


@dataclass(frozen=True)
class An4Utterance:
    """One transcribed AN4 recording.

    Attributes:
        utt_id: "<speaker>-<fileid>", e.g. "fash-an251-fash-b".
        speaker: AN4 speaker id (middle field of the file id).
        text: lowercase transcript, e.g. "march third nineteen twenty eight".
        audio: (T,) float32 at 16 kHz.
    """

    utt_id: str
    speaker: str
    text: str
    audio: np.ndarray


def _checked_members(tar: tarfile.TarFile, archive: Path) -> Dict[str, tarfile.TarInfo]:
    members = {}
    for member in tar.getmembers():
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise ValueError(f"{archive}: unsafe member path {member.name!r} (absolute or '..')")
        if member.isfile():
            members[str(name)] = member
    return members


def _read_audio(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path) -> np.ndarray:
    data = tar.extractfile(member).read()
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except RuntimeError as err:  # soundfile.LibsndfileError derives from it
        raise ValueError(f"{archive}:{member.name}: cannot decode audio ({err})") from err
    return resample(samples.mean(axis=1), rate, SAMPLE_RATE)


def parse_transcription(text: str, source: str) -> List[Tuple[str, str]]:
    """Parse AN4 transcription lines into (fileid, lowercase words).

    Args:
        text: file content.
        source: file name for error messages.
    """
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(
                f"{source}:{lineno}: expected '<s> WORDS </s> (fileid)', got {line!r}"
            )
        words = [w for w in match["words"].split() if w not in ("<s>", "</s>")]
        out.append((match["fileid"], " ".join(words).lower()))
    return out


def read_an4_archive(archive: Path) -> Tuple[List[An4Utterance], Dict[str, np.ndarray]]:
    """Load the transcribed AN4 utterances and the noise recordings.

    Recordings without a transcript (the archive has one) are skipped.

    Returns:
        (utterances sorted by utt_id, {noise name: (T,) float32 16 kHz})

    Raises:
        ValueError: unsafe member, malformed transcript, transcript without
            audio, or no transcripts at all.
    """
    archive = Path(archive)
    with tarfile.open(archive, "r:*") as tar:
        members = _checked_members(tar, archive)
        by_stem = {PurePosixPath(n).stem: m for n, m in members.items() if n.endswith(".sph")}
        transcripts: List[Tuple[str, str]] = []
        for name, member in sorted(members.items()):
            if PurePosixPath(name).name in TRANSCRIPTION_FILES:
                content = tar.extractfile(member).read().decode("utf-8")
                transcripts += parse_transcription(content, f"{archive}:{name}")
        if not transcripts:
            raise ValueError(f"{archive}: no {' or '.join(TRANSCRIPTION_FILES)} inside")
        utterances = []
        for fileid, text in transcripts:
            if fileid not in by_stem:
                raise ValueError(f"{archive}: transcript for {fileid!r} but no {fileid}.sph")
            parts = fileid.split("-")
            speaker = parts[1] if len(parts) == 3 else parts[0]
            audio = _read_audio(tar, by_stem[fileid], archive)
            utterances.append(An4Utterance(f"{speaker}-{fileid}", speaker, text, audio))
        noises = {
            PurePosixPath(n).stem: _read_audio(tar, m, archive)
            for n, m in sorted(members.items())
            if PurePosixPath(n).parent.name == "noise" and n.endswith(".wav")
        }
    return sorted(utterances, key=lambda u: u.utt_id), noises
