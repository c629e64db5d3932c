"""Kaldi-style data directories: write one atomically, read and check one.

Files written (all sorted by utterance id in C/byte order, as Kaldi's
``utils/validate_data_dir.sh`` and ESPnet require):

* ``wav.scp``   ``<utt> <absolute path of a 16 kHz wav>``
* ``text``      ``<utt> <transcript>``; a non-speech utterance has an empty
  transcript, i.e. a line holding only the id (ESPnet's
  ``read_2columns_text`` maps it to ""; asr.sh drops empty transcripts only
  from its training and validation sets, never from test sets);
* ``utt2spk``, ``spk2utt``;
* optional extra per-utterance files (e.g. ``utt2lang``, ``utt2dur``).

Utterance ids start with ``<speaker>-`` so that sorting by utterance also
sorts by speaker (validate_data_dir.sh checks both orders).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence

from espnet_llm_entropy.fileio.atomic import install_directory, make_temporary_sibling_dir
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_map

REQUIRED_FILES = ("wav.scp", "text", "utt2spk", "spk2utt")


@dataclass(frozen=True)
class DataDirEntry:
    """One utterance of a data directory."""

    utt_id: str
    speaker: str
    wav_path: str
    text: str


def _check_token(value: str, what: str) -> None:
    if not value or not value.isascii() or any(c.isspace() for c in value) or not value.isprintable():
        raise ValueError(f"{what} {value!r}: must be non-empty printable ASCII without spaces")


def write_kaldi_data_dir(
    final_dir: Path,
    entries: Sequence[DataDirEntry],
    extra_files: Mapping[str, Mapping[str, str]] = None,
) -> None:
    """Write a complete data directory under a temporary name, then rename it.

    Args:
        final_dir: destination (replaced if it exists).
        entries: the utterances, any order.
        extra_files: {file name: {utt_id: value}}, each covering every utterance.

    Raises:
        ValueError: duplicate or malformed ids, an id not prefixed by its
            speaker, a transcript with a newline, or an extra file that does
            not cover exactly the utterances.
    """
    if not entries:
        raise ValueError(f"{final_dir}: refusing to write a data directory with no utterances")
    by_id: Dict[str, DataDirEntry] = {}
    for e in entries:
        _check_token(e.utt_id, "utterance id")
        _check_token(e.speaker, f"speaker id of {e.utt_id}")
        if not (e.utt_id == e.speaker or e.utt_id.startswith(e.speaker + "-")):
            raise ValueError(f"utterance id {e.utt_id!r} must start with its speaker id {e.speaker!r} + '-'")
        if "\n" in e.text or "\r" in e.text:
            raise ValueError(f"{e.utt_id}: transcript contains a newline")
        if any(c.isspace() for c in e.wav_path):
            raise ValueError(f"{e.utt_id}: wav path {e.wav_path!r} contains whitespace")
        if e.utt_id in by_id:
            raise ValueError(f"duplicate utterance id {e.utt_id!r}")
        by_id[e.utt_id] = e
    ids = sorted(by_id)
    extra_files = dict(extra_files or {})
    for name, mapping in extra_files.items():
        if name in REQUIRED_FILES or sorted(mapping) != ids:
            raise ValueError(f"extra file {name!r} must be a new file covering exactly the utterances")

    spk2utt: Dict[str, List[str]] = {}
    for utt in ids:
        spk2utt.setdefault(by_id[utt].speaker, []).append(utt)

    def line(key: str, value: str) -> str:
        return f"{key} {value}\n" if value else f"{key}\n"

    contents = {
        "wav.scp": "".join(line(u, by_id[u].wav_path) for u in ids),
        "text": "".join(line(u, by_id[u].text.strip()) for u in ids),
        "utt2spk": "".join(line(u, by_id[u].speaker) for u in ids),
        "spk2utt": "".join(line(s, " ".join(spk2utt[s])) for s in sorted(spk2utt)),
    }
    for name, mapping in extra_files.items():
        contents[name] = "".join(line(u, str(mapping[u])) for u in ids)

    tmp = make_temporary_sibling_dir(final_dir)
    for name, content in contents.items():
        (tmp / name).write_text(content, encoding="utf-8")
    install_directory(tmp, final_dir)


def check_kaldi_data_dir(data_dir: Path) -> List[str]:
    """Check a data directory the way validate_data_dir.sh does (no feats).

    Returns:
        the sorted utterance ids.

    Raises:
        ValueError: a missing file, unsorted ids, files with different ids,
            utt2spk/spk2utt mismatch, or a wav.scp path that does not exist.
    """
    data_dir = Path(data_dir)
    for name in REQUIRED_FILES:
        if not (data_dir / name).is_file():
            raise ValueError(f"{data_dir}: missing {name}")
    maps = {
        name: read_kaldi_map(data_dir / name, allow_empty_value=(name == "text"))
        for name in ("wav.scp", "text", "utt2spk")
    }
    ids = list(maps["utt2spk"])
    for name, mapping in maps.items():
        if list(mapping) != sorted(mapping):
            raise ValueError(f"{data_dir / name}: not sorted by utterance id")
        if list(mapping) != ids:
            raise ValueError(f"{data_dir / name}: utterance ids differ from utt2spk")
    spk2utt = read_kaldi_map(data_dir / "spk2utt")
    if list(spk2utt) != sorted(spk2utt):
        raise ValueError(f"{data_dir / 'spk2utt'}: not sorted by speaker id")
    inverse = {u: s for s, utts in spk2utt.items() for u in utts.split()}
    if inverse != maps["utt2spk"]:
        raise ValueError(f"{data_dir}: spk2utt and utt2spk do not match")
    if [maps["utt2spk"][u] for u in ids] != sorted(maps["utt2spk"][u] for u in ids):
        raise ValueError(f"{data_dir / 'utt2spk'}: not sorted by speaker (prefix utterance ids with it)")
    for utt, path in maps["wav.scp"].items():
        if not Path(path).is_file():
            raise ValueError(f"{data_dir / 'wav.scp'}: {utt}: no such file {path}")
    return ids
