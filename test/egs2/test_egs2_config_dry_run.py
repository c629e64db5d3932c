"""Every training config of the egs2 recipes builds through our training entry point.

As ESPnet's CI does for its own recipes (``--dry_run true --iterator_type
none``): the task parses the config, builds the model and the optimizer and
writes ``config.yaml``, without data. The paper-scale LLM-ASR config names
Qwen3-1.7B by a local directory given at run time; here that directory is a
tiny Qwen2-architecture LLM built on the fly (``--llm_conf path=<tiny dir>``
merges into the config's ``llm_conf``, so LoRA settings, adaptor and the
~600M-parameter Conformer encoder are those of the config). Configs reached
through several symlinks are built once.
"""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted({p.resolve() for p in REPO.glob("egs2/*/llm_asr1/conf/train*.yaml")})


def test_every_recipe_has_training_configs():
    recipes = sorted(p.parent for p in REPO.glob("egs2/*/llm_asr1") if p.parent.name != "TEMPLATE")
    assert {r.name for r in recipes} >= {"aishell", "wenetspeech", "librispeech", "mini_bilingual"}
    for recipe in recipes:
        confs = list((recipe / "llm_asr1" / "conf").glob("train*.yaml"))
        assert confs, f"{recipe}/llm_asr1/conf has no train*.yaml"
        assert all(c.exists() for c in confs), f"dangling config symlink in {recipe}"


@pytest.fixture(scope="module")
def tiny_llm_dir(tmp_path_factory) -> Path:
    from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir

    return make_tiny_llm_dir(tmp_path_factory.mktemp("llm") / "tiny_llm")


@pytest.fixture(scope="module")
def phone_list(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    path.write_text("\n".join(["<blank>", "<unk>", "a1", "b", "AH0", "K"]) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[str(c.relative_to(REPO)) for c in CONFIGS])
def test_config_dry_run(config, tiny_llm_dir, phone_list, tmp_path):
    from espnet_llm_entropy.bin import llm_asr_train

    conf = yaml.safe_load(config.read_text())
    out = tmp_path / "out"
    args = [
        "--config", str(config), "--iterator_type", "none", "--dry_run", "true",
        "--output_dir", str(out), "--token_list", str(phone_list), "--use_tensorboard", "false",
    ]
    if conf.get("llm") not in (None, "none"):
        args += ["--llm_conf", f"path={tiny_llm_dir}"]
    llm_asr_train.main(args)
    written = yaml.safe_load((out / "config.yaml").read_text())
    # the run used the config's model, encoder and adaptor, not defaults
    assert written["model"] == conf["model"]
    assert written["encoder_conf"]["output_size"] == conf["encoder_conf"]["output_size"]
    assert written["encoder_conf"]["num_blocks"] == conf["encoder_conf"]["num_blocks"]
    if conf.get("adaptor") not in (None, "none"):
        assert written["adaptor_conf"]["stack"] == conf["adaptor_conf"]["stack"]
        assert written["llm_conf"]["path"] == str(tiny_llm_dir)
        assert written["llm_conf"]["train_mode"] == conf["llm_conf"]["train_mode"]


PAPER_CONFIGS = sorted((REPO / "egs2" / "TEMPLATE" / "llm_asr1" / "conf").glob("train*.yaml"))


@pytest.mark.parametrize("config", PAPER_CONFIGS, ids=[c.name for c in PAPER_CONFIGS])
def test_paper_scale_encoder_size_and_subsampling(config):
    """The paper's encoder: a Conformer of about 600M parameters with 4x subsampling (k=4 adaptor)."""
    import torch
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

    conf = yaml.safe_load(config.read_text())
    n_mels = conf["frontend_conf"]["n_mels"]
    with torch.device("meta"):  # sizes only: no memory, no initialisation
        encoder = ConformerEncoder(input_size=n_mels, **conf["encoder_conf"])
    n_params = sum(p.numel() for p in encoder.parameters())
    assert 550e6 <= n_params <= 650e6, f"{config.name}: {n_params / 1e6:.0f}M encoder parameters"
    assert conf["encoder_conf"]["input_layer"] == "conv2d"  # Conv2dSubsampling: 4x
    assert conf["frontend_conf"]["hop_length"] == 160  # 100 Hz fbank -> 25 Hz encoder frames
    if conf["model"] == "llm_asr":
        assert conf["adaptor_conf"]["stack"] == 4  # 25 Hz -> 6.25 Hz LLM tokens
        assert conf["llm"] == "hf_causal_lm" and "path" not in conf.get("llm_conf", {})
