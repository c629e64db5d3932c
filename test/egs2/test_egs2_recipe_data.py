"""Stage-1 and stage-4 data scripts of the llm_asr1 recipes, in a fake egs2 tree.

ESPnet's Kaldi helpers are replaced by small stand-ins (copy_data_dir.sh
copies the files; parse_options.sh reads ``--name value``) so the scripts'
own logic runs without an ESPnet checkout.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

COPY_DATA_DIR = """#!/usr/bin/env bash
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift 2; done
mkdir -p "$2" && cp "$1"/* "$2"/
"""
PARSE_OPTIONS = """# stand-in for Kaldi's utils/parse_options.sh: --name value pairs
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do name=${1#--}; printf -v "${name//-/_}" '%s' "$2"; shift 2; done
"""


@pytest.fixture
def egs2(tmp_path) -> Path:
    """tmp/egs2 with our TEMPLATE/llm_asr1, a fake ESPnet aishell/asr1 and our aishell/llm_asr1."""
    root = tmp_path / "egs2"
    shutil.copytree(REPO / "egs2" / "TEMPLATE" / "llm_asr1", root / "TEMPLATE" / "llm_asr1")
    utils = root / "TEMPLATE" / "asr1" / "utils"
    utils.mkdir(parents=True)
    (utils / "copy_data_dir.sh").write_text(COPY_DATA_DIR)
    (utils / "copy_data_dir.sh").chmod(0o755)
    (utils / "parse_options.sh").write_text(PARSE_OPTIONS)
    espnet = root / "aishell" / "asr1"
    (espnet / "local").mkdir(parents=True)
    # ESPnet's recipe: writes data/<set> relative to its own dir, audio paths relative too
    (espnet / "local" / "data.sh").write_text(
        "#!/usr/bin/env bash\nset -eu\necho \"$@\" > called_with.txt\n"
        "for s in train dev test; do mkdir -p data/$s\n"
        "  echo \"u1 downloads/$s/u1.wav\" > data/$s/wav.scp\n"
        "  echo \"u2 /abs/u2.wav\" >> data/$s/wav.scp\n"
        "  echo \"u3 sox in.wav -t wav - |\" >> data/$s/wav.scp\n"
        "  printf 'u1 你好\\nu2 hello\\nu3 世界\\n' > data/$s/text\ndone\n"
    )
    (espnet / "local" / "data.sh").chmod(0o755)
    ours = root / "aishell" / "llm_asr1"
    shutil.copytree(REPO / "egs2" / "aishell" / "llm_asr1" / "local", ours / "local", symlinks=True)
    os.symlink("../../TEMPLATE/asr1/utils", ours / "utils")
    (ours / "path.sh").write_text("# test: the environment is already active\n")
    return root


def test_stage1_runs_espnet_recipe_and_copies_its_data(egs2):
    ours = egs2 / "aishell" / "llm_asr1"
    res = subprocess.run(["local/data.sh", "--remove_archive", "true"], cwd=ours, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    espnet = (egs2 / "aishell" / "asr1").resolve()
    assert (espnet / "called_with.txt").read_text().split() == ["--remove_archive", "true"]
    for dset in ("train", "dev", "test"):
        wav = (ours / "data" / dset / "wav.scp").read_text().splitlines()
        assert wav == [f"u1 {espnet}/downloads/{dset}/u1.wav", "u2 /abs/u2.wav", "u3 sox in.wav -t wav - |"]
        assert (ours / "data" / dset / "text").read_text().startswith("u1 你好")


def test_stage1_names_a_missing_espnet_recipe(egs2):
    shutil.rmtree(egs2 / "aishell" / "asr1")
    ours = egs2 / "aishell" / "llm_asr1"
    res = subprocess.run(["local/data.sh"], cwd=ours, capture_output=True, text=True)
    assert res.returncode != 0
    assert "aishell/asr1/local/data.sh not found" in res.stdout + res.stderr


def test_stage4_call_goes_to_phone_targets(egs2):
    """asr.sh's stage-4 call (``--asr_data_dir``) must not rerun ESPnet's preparation."""
    ours = egs2 / "aishell" / "llm_asr1"
    res = subprocess.run(
        ["local/data.sh", "--token_list", "tl/tokens.txt", "--asr_data_dir", "dump/raw/train"],
        cwd=ours, capture_output=True, text=True,
    )
    assert res.returncode == 1
    assert "dump/raw/train/text is missing" in res.stdout + res.stderr
    assert not (egs2 / "aishell" / "asr1" / "called_with.txt").exists()


def test_stage4_writes_phone_transcripts_and_the_inventory_as_token_list(egs2):
    import sys

    ours = egs2 / "aishell" / "llm_asr1"
    for dset, text in (("train", "u1 你好\nu2 hello world\n"), ("dev", "d1 你好 hello\n")):
        (ours / "dump" / "raw" / dset).mkdir(parents=True)
        (ours / "dump" / "raw" / dset / "text").write_text(text)
    res = subprocess.run(
        ["local/data.sh", "--token_list", "data/zh_token_list/word/tokens.txt", "--valid_set", "dev",
         "--python_exe", sys.executable, "--asr_data_dir", "dump/raw/train"],
        cwd=ours, capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    inventory = (ours / "data/zh_token_list/word/tokens.txt").read_text().split()
    assert inventory[:2] == ["<blank>", "<unk>"]
    train = dict(line.split(" ", 1) for line in (ours / "dump/raw/train/text.phn").read_text().splitlines())
    assert set(train) == {"u1", "u2"}
    phones = {p for seq in train.values() for p in seq.split()}
    assert phones == set(inventory[2:])  # the inventory is exactly the train set's phones
    assert {"n", "i3", "h", "ao3"} <= phones and {"HH", "W", "ER1"} <= phones
    dev = (ours / "dump/raw/dev/text.phn").read_text()
    assert dev.startswith("d1 n i3 h ao3 ")


def _shell_defaults(script: Path) -> dict:
    """``name=value`` lines at the top level of a shell script (values without spaces)."""
    import re

    pattern = re.compile(r"^([a-z_]+)=([^\s#]*)")
    return {m.group(1): m.group(2) for line in script.read_text().splitlines() if (m := pattern.match(line))}


def test_mini_recipe_builds_the_demo_corpus_and_the_demo_llm():
    """One set of presets: the mini recipe's stage 1 defaults are the demo's."""
    from espnet_llm_entropy.pipeline.demo_pipeline import DemoConfig

    script = REPO / "egs2" / "mini_bilingual" / "llm_asr1" / "local" / "data.sh"
    defaults = _shell_defaults(script)
    demo = DemoConfig(out_dir=Path("."))
    for name in ("num_train", "num_dev", "num_test", "num_speakers", "seed"):
        assert int(defaults[name]) == getattr(demo, name), name
    text = script.read_text()
    assert "python3 -m espnet_llm_entropy.bin.make_tiny_llm" in text
    assert "--heldout_text data/dev/text data/test/text" in text
    # the demo builds its LLM with the same builder and the builder's defaults (make_tiny_llm's too)
    from espnet_llm_entropy.llm.template_lm import TemplateLMConfig

    lm = TemplateLMConfig()
    assert (demo.llm_hidden_size, demo.llm_layers, demo.llm_vocab_size, demo.llm_pretrain_steps,
            demo.llm_template_sentences) == (lm.hidden_size, lm.num_layers, lm.vocab_size, lm.steps,
                                             lm.template_sentences)
    for config in ("train_align.yaml", "train_ia_sft.yaml", "train_joint_sft.yaml", "train_pretrain_phoneme_ctc.yaml"):
        link = REPO / "egs2" / "mini_bilingual" / "llm_asr1" / "conf" / config
        assert link.resolve().parent == (REPO / "conf" / "tiny").resolve(), config


def test_mini_recipe_pretrains_with_the_corpus_noise_as_the_demo_does():
    """The demo passes its corpus' noise list to pretraining's non-speech examples; without it they
    would be synthetic noise only, another training set (measured: another first-epoch loss)."""
    import yaml

    recipe = REPO / "egs2" / "mini_bilingual" / "llm_asr1"
    corpus = _shell_defaults(recipe / "local" / "data.sh").get("corpus")
    method = yaml.safe_load((recipe / "conf" / "method.yaml").read_text())
    assert corpus and f"--nonspeech_examples_conf noise_scp={corpus}/noise.scp" in method["pretrain_args"]
    assert "../../mini_an4/asr1/downloads.tar.gz" in (recipe / "local" / "data.sh").read_text()
