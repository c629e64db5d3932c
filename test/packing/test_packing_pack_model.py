"""Packing an LLM-ASR experiment in ESPnet's format, and loading it in another directory."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import soundfile
import yaml

from espnet_llm_entropy.packing.llm_identity import IDENTITY_FILE, LLMIdentityError
from espnet_llm_entropy.packing.packed_model import open_pack
from espnet_llm_entropy.speech2text import LLMSpeech2Text


def _texts(s2t, wavs):
    waves = [soundfile.read(w)[0].astype(np.float32) for w in wavs]
    return [h.text for h in s2t.batch(waves)]


@pytest.fixture(scope="module")
def original_texts(trained_sft):
    s2t = LLMSpeech2Text(trained_sft.config, trained_sft.model_file)
    return _texts(s2t, trained_sft.test_wavs)


def test_pack_is_espnet_format_with_our_files_and_config_pointing_into_it(packs, trained_sft):
    with zipfile.ZipFile(packs["lean"]) as zf:
        names = zf.namelist()
        meta = yaml.safe_load(zf.read("meta.yaml"))
        # packed from outside the output folder: ESPnet stores absolute paths, without the leading /
        config = yaml.safe_load(zf.read(meta["yaml_files"]["asr_train_config"].lstrip("/")))
        identity = yaml.safe_load(zf.read(next(n for n in names if n.endswith(IDENTITY_FILE))))
    assert meta["files"]["asr_model_file"] in names and meta["espnet"]  # relative: below the working dir
    assert all(not n.startswith("/") for n in names)
    assert any(n.endswith("/tokens.txt") for n in names) and any(n.endswith("/tokenizer/tokenizer.json") for n in names)
    assert not any("/llm/" in n for n in names)  # lean: the base LLM is not inside
    # the LLM's identity: the path as trained and the fingerprint of the checkpoint
    assert identity["path_as_trained"] == str(trained_sft.llm_dir) and identity["packed_path"] is None
    assert len(identity["config_sha256"]) == 64 and identity["weight_file_bytes"]
    assert config.get("speech_encoder_init") is None and config.get("ctc_head_init") is None
    # the staging folder is gone; nothing but the pack was left next to it
    assert sorted(p.name for p in packs["lean"].parent.iterdir()) == ["full.tar.gz", "lean.zip"]

    packed = open_pack(packs["full"], packs["full"].parent.parent / "full_unpacked")
    with open(packed.config) as f:
        full_config = yaml.safe_load(f)
    assert full_config["llm_conf"]["path"] == packed.identity["packed_path"]
    assert packed.llm_dir == packed.root / full_config["llm_conf"]["path"]
    assert packed.resolved_config()["llm_conf"]["path"] == str(packed.llm_dir)


def test_round_trip_in_another_directory_gives_the_same_hypotheses(
    packs, trained_sft, original_texts, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = shutil.copy(packs["full"], elsewhere / "model.tar.gz")
    monkeypatch.chdir(elsewhere)
    # the LLM inside the pack
    s2t = LLMSpeech2Text.from_pretrained(moved, unpack_dir=elsewhere / "unpacked")
    assert str(s2t.model.llm.path).startswith(str(elsewhere / "unpacked"))
    assert _texts(s2t, trained_sft.test_wavs) == original_texts
    # the lean pack with llm_dir: a copy of the base LLM somewhere else, checked against the fingerprint
    llm_copy = shutil.copytree(trained_sft.llm_dir, tmp_path / "my_llm")
    lean = shutil.copy(packs["lean"], elsewhere / "lean.zip")
    s2t = LLMSpeech2Text.from_pretrained(lean, llm_dir=llm_copy, unpack_dir=elsewhere / "lean")
    assert _texts(s2t, trained_sft.test_wavs) == original_texts
    # the unpacked folder (the Hugging Face repository layout) loads as well
    s2t = LLMSpeech2Text.from_pretrained(elsewhere / "lean", llm_dir=llm_copy)
    assert _texts(s2t, trained_sft.test_wavs[:1]) == original_texts[:1]


def test_wrong_llm_dir_is_a_fingerprint_error_naming_both(packs, trained_sft, tmp_path):
    wrong = shutil.copytree(trained_sft.llm_dir, tmp_path / "other_llm")
    conf = json.loads((wrong / "config.json").read_text())
    conf["num_hidden_layers"] = conf["num_hidden_layers"] + 1
    (wrong / "config.json").write_text(json.dumps(conf))
    with pytest.raises(LLMIdentityError) as err:
        LLMSpeech2Text.from_pretrained(packs["lean"], llm_dir=wrong, unpack_dir=tmp_path / "u")
    message = str(err.value)
    assert str(wrong) in message and str(trained_sft.llm_dir) in message and "sha256" in message


def test_missing_llm_is_an_error_naming_the_pack_and_the_llm(packs, trained_sft, tmp_path):
    unpacked = tmp_path / "u"
    open_pack(packs["lean"], unpacked)
    identity_file = next(unpacked.rglob(IDENTITY_FILE))
    identity = yaml.safe_load(identity_file.read_text())
    identity["resolved_path_as_trained"] = str(tmp_path / "gone")  # as on another machine
    identity_file.write_text(yaml.safe_dump(identity))
    with pytest.raises(LLMIdentityError) as err:
        LLMSpeech2Text.from_pretrained(unpacked)
    assert str(unpacked) in str(err.value) and "llm_dir" in str(err.value)
    assert identity["path_as_trained"] in str(err.value)


def test_a_changed_tokenizer_in_llm_dir_is_refused(packs, trained_sft, tmp_path):
    changed = shutil.copytree(trained_sft.llm_dir, tmp_path / "llm_new_tokenizer")
    with open(changed / "tokenizer_config.json", "a") as f:
        f.write("\n")
    with pytest.raises(LLMIdentityError, match="tokenizer"):
        LLMSpeech2Text.from_pretrained(packs["lean"], llm_dir=changed, unpack_dir=tmp_path / "u")
