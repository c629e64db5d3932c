"""Stage 15: ESPnet's Hugging Face repository layout with a model card; offline, the upload fails fast."""

import time

import pytest

from espnet_llm_entropy.bin import upload_pack
from espnet_llm_entropy.packing import hf_upload
from espnet_llm_entropy.speech2text import LLMSpeech2Text


def test_prepared_repository_has_the_pack_and_a_model_card_and_stays_when_offline(
    packs, trained_sft, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(SystemExit) as err:
        upload_pack.main(["--pack", str(packs["full"]), "--hf_repo", "me/tiny_llm_asr", "--expdir", "exp"])
    assert err.value.code == 1 and time.time() - start < 30
    repo = tmp_path / "exp" / "hf_me_tiny_llm_asr"
    card = (repo / "README.md").read_text()
    for part in ("tags:", "espnet", "me/tiny_llm_asr", "from_pretrained", "ASR config", "config.json sha256",
                 "The base LLM is inside"):
        assert part in card
    assert (repo / "meta.yaml").is_file()
    # the repository folder itself loads (the layout ESPnet uploads)
    assert LLMSpeech2Text.from_pretrained(repo).packed.root == repo


def test_unreachable_hub_names_the_folder_and_how_to_push(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hf_upload.UploadError) as err:
        hf_upload.upload_repository(tmp_path, "me/x", timeout=1)
    assert str(tmp_path) in str(err.value) and "huggingface-cli upload me/x" in str(err.value)


def test_bad_repo_name_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="user"):
        upload_pack.main(["--pack", str(tmp_path / "p.zip"), "--hf_repo", "noslash"])
