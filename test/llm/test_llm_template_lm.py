"""The corpus-matched tiny LLM builder (espnet_llm_entropy.llm.template_lm, bin.make_tiny_llm)."""

import json

import pytest

from espnet_llm_entropy.bin import make_tiny_llm
from espnet_llm_entropy.corpus.lm_text import sample_lm_sentences
from espnet_llm_entropy.llm.template_lm import TemplateLMConfig, make_template_lm, read_kaldi_transcripts
from espnet_llm_entropy.llm.tiny_lm import text_perplexity
from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

SMALL = dict(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
             template_sentences=800, steps=60, batch_size=16)


def _kaldi(path, texts, prefix):
    path.write_text("".join(f"{prefix}{i:03d} {t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("template_lm")
    sentences = sample_lm_sentences(60, [], seed=11)
    train = _kaldi(root / "train_text", sentences[:40], "tr")
    dev = _kaldi(root / "dev_text", sentences[40:50], "dv")
    test = _kaldi(root / "test_text", sentences[50:], "te")
    report = make_template_lm(train, [dev, test], root / "llm", TemplateLMConfig(**SMALL))
    return root, report


def test_writes_a_model_dir_with_report_and_no_leftovers(built):
    root, report = built
    assert (root / "llm" / "config.json").is_file()
    assert json.loads((root / "llm" / "lm_report.json").read_text()) == report
    assert sorted(p.name for p in root.iterdir()) == ["dev_text", "llm", "test_text", "train_text"]
    assert report["num_transcripts"] == 40
    assert report["num_template_sentences"] == 800
    assert report["num_excluded_sentences"] == 20


def test_pretraining_lowers_the_loss_and_heldout_perplexity_is_reported(built):
    root, report = built
    assert report["train_loss_last"] < report["train_loss_first"] - 0.5
    dev = report["heldout_perplexity"][str(root / "dev_text")]
    assert dev["num_sentences"] == 10
    assert 1.0 < dev["perplexity"] < 400
    again = text_perplexity(root / "llm", read_kaldi_transcripts(root / "dev_text"))
    assert again["perplexity"] == pytest.approx(dev["perplexity"], rel=1e-5)


def test_tokenizer_keeps_each_chinese_character_a_token_of_its_own(built):
    root, _ = built
    tok = load_llm_tokenizer(root / "llm")
    text = "我的号码是三四九"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([i]) for i in ids]
    assert "".join(pieces) == text
    assert all(len(p) <= 1 for p in pieces)  # never a multi-character chunk


def test_same_options_give_the_same_model(built, tmp_path):
    root, report = built
    again = make_template_lm(root / "train_text", [root / "dev_text", root / "test_text"],
                             tmp_path / "llm", TemplateLMConfig(**SMALL))
    assert again["train_loss_last"] == report["train_loss_last"]
    assert (tmp_path / "llm" / "model.safetensors").read_bytes() == (root / "llm" / "model.safetensors").read_bytes()


def test_cli_keeps_an_existing_model_and_rejects_bad_sizes(built, tmp_path, capsys):
    root, _ = built
    before = (root / "llm" / "model.safetensors").stat().st_mtime_ns
    make_tiny_llm.main(["--text", str(root / "train_text"), "--out_dir", str(root / "llm")])
    assert (root / "llm" / "model.safetensors").stat().st_mtime_ns == before
    with pytest.raises(SystemExit, match="num_heads"):
        make_tiny_llm.main(["--text", str(root / "train_text"), "--out_dir", str(tmp_path / "x"),
                            "--hidden_size", "30", "--num_heads", "4"])
    assert not (tmp_path / "x").exists()
