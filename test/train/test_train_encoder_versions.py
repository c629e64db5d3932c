import hashlib
import json
import threading
import time

import pytest
import torch

from espnet_llm_entropy.train.encoder_versions import (
    EncoderVersionChecksumError,
    load_encoder_version,
    publish_encoder_version,
    read_published_versions,
    write_writer_status,
    writer_is_alive,
)


def _state(seed, size=64):
    g = torch.Generator().manual_seed(seed)
    return {"encoder.w": torch.randn(size, size, generator=g), "encoder.b": torch.randn(size, generator=g)}


def test_publish_then_read_round_trip(tmp_path):
    rec = publish_encoder_version(tmp_path, _state(0), 1, pretrain_step=40, cka=0.97, reference_version=0)
    records, problems = read_published_versions(tmp_path)
    assert problems == [] and records == [rec]
    raw = json.loads((tmp_path / "encoder_v1.json").read_text())
    assert raw["pretrain_step"] == 40 and raw["cka"] == pytest.approx(0.97) and len(raw["sha256"]) == 64
    assert raw["time"].endswith("Z") and raw["final"] is False
    loaded = load_encoder_version(tmp_path, rec)
    assert torch.equal(loaded["encoder.w"], _state(0)["encoder.w"])
    with pytest.raises(FileExistsError, match="version 1 is already published"):
        publish_encoder_version(tmp_path, _state(1), 1, 50, 0.9, 1)


def test_incomplete_or_corrupt_candidates_are_reported_not_returned(tmp_path):
    publish_encoder_version(tmp_path, _state(0), 1, 10, None, None)
    rec2 = publish_encoder_version(tmp_path, _state(1), 2, 20, 0.9, 1)
    # weights without a record (publication in progress) are invisible
    torch.save(_state(2), tmp_path / "encoder_v3.pth")
    # a corrupt weights file behind a valid record
    data = (tmp_path / "encoder_v2.pth").read_bytes()
    (tmp_path / "encoder_v2.pth").write_bytes(data[: len(data) // 2])
    # a truncated record
    (tmp_path / "encoder_v4.json").write_text('{"version": 4, "pretr')
    records, problems = read_published_versions(tmp_path)
    assert [r.version for r in records] == [1]
    assert any("encoder_v2.pth" in p and "sha256" in p for p in problems)
    assert any("encoder_v4.json" in p for p in problems)
    with pytest.raises(EncoderVersionChecksumError) as err:
        load_encoder_version(tmp_path, rec2)
    actual = hashlib.sha256(data[: len(data) // 2]).hexdigest()
    assert (err.value.recorded, err.value.actual) == (rec2.sha256, actual)
    for part in (str(tmp_path / "encoder_v2.pth"), rec2.sha256, actual, "re-publish", "remove the record"):
        assert part in str(err.value)


def test_writer_status_tells_a_live_publisher_from_a_finished_or_dead_one(tmp_path):
    assert not writer_is_alive(tmp_path, stale_after_s=60)  # no writer file: copied versions
    write_writer_status(tmp_path)
    assert writer_is_alive(tmp_path, stale_after_s=60)  # this process
    write_writer_status(tmp_path, finished=True)
    assert not writer_is_alive(tmp_path, stale_after_s=60)
    status = json.loads((tmp_path / "writer.json").read_text())
    status.update(finished=False, pid=2 ** 22 + 12345)  # no such process on this host
    (tmp_path / "writer.json").write_text(json.dumps(status))
    assert not writer_is_alive(tmp_path, stale_after_s=60)
    status.update(host="another-host", heartbeat_unix_time=time.time() - 10)
    (tmp_path / "writer.json").write_text(json.dumps(status))
    assert writer_is_alive(tmp_path, stale_after_s=60) and not writer_is_alive(tmp_path, stale_after_s=5)


def test_polling_reader_never_sees_a_partial_publication(tmp_path):
    """A reader polling while versions are written sees only complete, verified files."""
    stop = threading.Event()
    seen, bad = set(), []

    def poll():
        while True:
            final_round = stop.is_set()
            records, problems = read_published_versions(tmp_path)
            bad.extend(problems)
            for r in records:
                seen.add(r.version)
            for path in tmp_path.glob("encoder_v*.pth"):  # a visible weights file is complete
                try:
                    torch.load(path, weights_only=True)
                except FileNotFoundError:
                    pass
                except Exception as e:  # noqa: BLE001
                    bad.append(f"{path}: {e}")
            if final_round:
                return

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for v in range(1, 7):
            publish_encoder_version(tmp_path, _state(v, size=256), v, 10 * v, 0.9, v - 1)
    finally:
        stop.set()
        reader.join()
    assert bad == []
    assert seen == set(range(1, 7))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind
