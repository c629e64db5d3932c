"""Training runs that fail at start-up: fast, named errors and no files left behind (through the trainer)."""

import hashlib
import shutil
import time

import pytest
import torch

from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.train.checkpoint_files import CheckpointFileError
from espnet_llm_entropy.train.encoder_versions import EncoderVersionChecksumError, publish_encoder_version
from espnet_llm_entropy.train.startup_cleanup import remove_startup_files_on_failure

SMALL = ["--encoder_conf", "output_size=32", "--encoder_conf", "linear_units=64", "--encoder_conf",
         "attention_heads=2", "--batch_size", "4", "--num_att_plot", "0", "--probe_conf", "num_utts=2"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    return build_tiny_experiment(tmp_path_factory.mktemp("startup"), 8, 4, 4)


def _conf(name):
    from espnet_llm_entropy.testing.experiment_setup import REPO_CONF

    return REPO_CONF / "tiny" / name


def _train(tiny, config, out, *extra):
    return espnet_steps.train(config, tiny.phones, tiny.data / "train", tiny.data / "dev", tiny.stats, out,
                              extra=[*SMALL, "--max_epoch", "1", *extra])


def test_ia_sft_on_a_truncated_version_fails_at_once_and_leaves_nothing(tiny, tmp_path):
    """The issue's repro: replay IA-SFT pointed at a truncated encoder_v1.pth (wait_timeout_s stays 3600)."""
    pub = tmp_path / "encoder_versions"
    record = publish_encoder_version(pub, {"w": torch.randn(300, 300)}, 1, 10, None, None, final=True)
    weights = pub / "encoder_v1.pth"
    weights.write_bytes(weights.read_bytes()[:200000])
    out = tmp_path / "ia_sft"
    started = time.monotonic()
    with pytest.raises(EncoderVersionChecksumError) as err:
        _train(tiny, _conf("ia_sft.yaml"), out,
               "--llm_conf", f"path={tiny.llm_dir}", "--hot_swap_conf", f"publish_dir={pub}")
    assert time.monotonic() - started < 300  # not the 3600 s wait_timeout_s
    message = str(err.value)
    for part in (str(weights), record.sha256, hashlib.sha256(weights.read_bytes()).hexdigest(),
                 "re-publish", "remove the record encoder_v1.json"):
        assert part in message
    assert not (out / "config.yaml").exists() and not (out / "swap_history.jsonl").exists()


def test_truncated_encoder_init_checkpoint_names_the_file(tiny, tmp_path):
    bad = tmp_path / "encoder_half.pth"
    buffer = tmp_path / "full.pth"
    torch.save({"speech_encoder.w": torch.randn(200, 200)}, buffer)
    bad.write_bytes(buffer.read_bytes()[: buffer.stat().st_size // 2])
    out = tmp_path / "sft"
    with pytest.raises(CheckpointFileError, match=f"{bad}: --speech_encoder_init is not a loadable PyTorch "
                                                  "checkpoint .* truncated or corrupted"):
        _train(tiny, _conf("sft_llm_asr.yaml"), out, "--llm_conf", f"path={tiny.llm_dir}",
               "--speech_encoder_init", str(bad))
    assert not (out / "config.yaml").exists()


def test_truncated_resume_checkpoint_names_the_file_and_keeps_the_runs_files(tiny, tmp_path):
    out = tmp_path / "pre"
    _train(tiny, _conf("pretrain_phoneme_ctc.yaml"), out, "--model_conf", "cr_weight=0",
           "--model_conf", "head_hidden_size=32")
    checkpoint = out / "checkpoint.pth"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(CheckpointFileError, match=f"{checkpoint}: the checkpoint to resume from"):
        _train(tiny, _conf("pretrain_phoneme_ctc.yaml"), out, "--model_conf", "cr_weight=0",
               "--model_conf", "head_hidden_size=32", "--max_epoch", "2")
    assert (out / "config.yaml").exists()  # the earlier run's files are not this run's to remove


def test_cleanup_removes_only_new_run_files_and_only_without_a_new_checkpoint(tmp_path):
    (tmp_path / "train.log").write_text("log")
    (tmp_path / "cka_trace.jsonl").write_text("{}\n")  # an earlier run's
    with pytest.raises(RuntimeError):
        with remove_startup_files_on_failure(tmp_path):
            for name in ("config.yaml", "swap_history.jsonl", "swap_applied_rank0.jsonl"):
                (tmp_path / name).write_text("x")
            (tmp_path / "encoder_versions").mkdir()
            (tmp_path / "encoder_versions" / "writer.json").write_text("{}")
            raise RuntimeError("bad data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cka_trace.jsonl", "train.log"]
    with pytest.raises(RuntimeError):
        with remove_startup_files_on_failure(tmp_path):
            (tmp_path / "config.yaml").write_text("x")
            (tmp_path / "checkpoint.pth").write_text("an epoch finished")
            raise RuntimeError("later failure")
    assert (tmp_path / "config.yaml").exists()
