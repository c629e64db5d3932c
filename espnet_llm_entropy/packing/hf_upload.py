"""ESPnet's Hugging Face model repository for a pack, with a model card, and its upload (stage 15).

ESPnet's asr.sh stage 15 clones ``https://huggingface.co/<hf_repo>`` into
``<expdir>/hf_<hf_repo with / as _>``, unzips the pack into it, writes a
README model card from ``scripts/utils/TEMPLATE_HF_Readme.md`` and pushes.
Here the same folder is prepared without a clone (the pack's members,
``meta.yaml`` at the top, and ``README.md``), written under a temporary
name and renamed; the upload uses ``huggingface_hub`` and, without a
network, fails within seconds with a message naming the prepared folder
and how to push it later.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from espnet_llm_entropy.packing.packed_model import PackedModel, open_pack

HUB_HOST = "huggingface.co"


class UploadError(RuntimeError):
    """The prepared repository could not be uploaded."""


@dataclass
class CardInfo:
    """What the model card says besides the pack's own files.

    Attributes:
        hf_repo: ``<user>/<name>`` on the hub.
        recipe: e.g. ``mini_bilingual/llm_asr1``.
        creator: who trained it (``git config user.name``, else the login).
        checkout: the ESPnet commit (``git checkout <sha>``), or "".
        lang: language tag(s) for the card's metadata.
    """

    hf_repo: str
    recipe: str
    creator: str
    checkout: str = ""
    lang: str = "noinfo"


def card_info_here(hf_repo: str, lang: str = "noinfo") -> CardInfo:
    """Card details from the working directory (an ESPnet recipe folder), as asr.sh finds them."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    cwd = Path.cwd()
    sha = git("show", "-s", "--format=%H")
    return CardInfo(
        hf_repo=hf_repo,
        recipe=f"{cwd.parent.name}/{cwd.name}",
        creator=git("config", "user.name") or getpass.getuser(),
        checkout=f"git checkout {sha}" if sha else "",
        lang=lang,
    )


def model_card(packed: PackedModel, info: CardInfo) -> str:
    """The README.md of the model repository, in the style of ESPnet's template."""
    ident = packed.identity
    results = sorted(packed.root.rglob("RESULTS.md"))
    results_text = results[0].read_text(encoding="utf-8") if results else "(no RESULTS.md in the pack)"
    config_text = packed.config.read_text(encoding="utf-8")
    corpus = info.recipe.split("/")[0]
    if packed.llm_dir is not None:
        llm_line = "The base LLM is inside this repository; nothing else is needed."
        llm_arg = ""
    else:
        llm_line = (
            "The base LLM is **not** inside this repository (only its fingerprint is): pass the "
            f"LLM it was trained on (`{ident.get('path_as_trained')}` in the recipe) as `llm_dir`; "
            "it is checked against the fingerprint below."
        )
        llm_arg = ', llm_dir="path/to/base_llm"'
    weights = ", ".join(f"{k}: {v} bytes" for k, v in (ident.get("weight_file_bytes") or {}).items())
    return f"""---
tags:
- espnet
- audio
- automatic-speech-recognition
- llm-asr
language: {info.lang}
datasets:
- {corpus}
license: cc-by-4.0
---

## ESPnet2 ASR model (LLM-ASR, espnet-llm-entropy)

### `{info.hf_repo}`

This model was trained by {info.creator} using the {info.recipe} recipe of
espnet-llm-entropy (an ESPnet plugin) through ESPnet's own `asr.sh`
in [espnet](https://github.com/espnet/espnet/): a speech encoder, a frame-stacking adaptor
and a Hugging Face causal LM.

### How to use

{llm_line}

```python
import espnet_llm_entropy
from espnet_llm_entropy.speech2text import LLMSpeech2Text

espnet_llm_entropy.register()
s2t = LLMSpeech2Text.from_pretrained("path/to/this/repository"{llm_arg})
print(s2t(waveform_16k)[0].text)
```

or decode a data directory as asr.sh stage 12 does:

```bash
python -m espnet_llm_entropy.bin.llm_asr_inference --model_tag path/to/this/repository \\
    --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound --output_dir decode_test
```

To reproduce it, in an ESPnet checkout:

```bash
cd espnet
{info.checkout}
pip install -e . && pip install espnet-llm-entropy
cd egs2/{info.recipe}
./run.sh
```

### Base LLM

| | |
|---|---|
| path as trained | `{ident.get('path_as_trained')}` |
| config.json sha256 | `{ident.get('config_sha256')}` |
| parameters | {ident.get('num_parameters')} |
| weight files | {weights} |
| training mode | {ident.get('train_mode')} |

{results_text}

## ASR config

<details><summary>expand</summary>

```
{config_text}
```

</details>

### Citing ESPnet

```BibTex
@inproceedings{{watanabe2018espnet,
  author={{Shinji Watanabe and Takaaki Hori and Shigeki Karita and Tomoki Hayashi and Jiro Nishitoba and Yuya Unno and Nelson Yalta and Jahn Heymann and Matthew Wiesner and Nanxin Chen and Adithya Renduchintala and Tsubasa Ochiai}},
  title={{{{ESPnet}}: End-to-End Speech Processing Toolkit}},
  year={{2018}},
  booktitle={{Proceedings of Interspeech}},
  pages={{2207--2211}},
  doi={{10.21437/Interspeech.2018-1456}},
}}
```
"""


def repo_dir_for(expdir: Path, hf_repo: str) -> Path:
    """asr.sh's folder name: ``<expdir>/hf_<hf_repo with / replaced by _>``."""
    return Path(expdir) / f"hf_{hf_repo.replace('/', '_')}"


def prepare_repository(pack: Path, repo_dir: Path, info: CardInfo) -> Path:
    """Write the model repository (the pack's members + README.md) at ``repo_dir``, replacing it.

    A ``.git`` folder already there (a clone) is kept.
    """
    from espnet_llm_entropy.fileio.atomic import install_directory, make_temporary_sibling_dir

    tmp = make_temporary_sibling_dir(repo_dir)
    try:
        shutil.rmtree(tmp)
        packed = open_pack(pack, tmp)
        (tmp / "README.md").write_text(model_card(packed, info), encoding="utf-8")
        if (repo_dir / ".git").is_dir():
            shutil.move(str(repo_dir / ".git"), str(tmp / ".git"))
        install_directory(tmp, repo_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return repo_dir


def hub_reachable(timeout: float = 5.0) -> Optional[str]:
    """None when the hub answers on port 443, else why not (offline mode, DNS, connection)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set"
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return None
    except OSError as e:
        return f"{HUB_HOST}:443 unreachable ({type(e).__name__}: {e})"


def push_instructions(repo_dir: Path, hf_repo: str) -> str:
    return (
        f"the prepared folder {repo_dir} stays; push it from a machine with network access: "
        f"`huggingface-cli upload {hf_repo} {repo_dir} .` (or git clone https://huggingface.co/{hf_repo}, "
        "copy the folder in, git lfs track '*.pth' '*.safetensors', commit and push)"
    )


def upload_repository(repo_dir: Path, hf_repo: str, timeout: float = 5.0) -> None:
    """Upload ``repo_dir`` to ``hf_repo`` with ``huggingface_hub``.

    Raises:
        UploadError: the hub is unreachable (checked first, within
            ``timeout`` seconds) or the upload fails; the message names the
            prepared folder and how to push it later.
    """
    why = hub_reachable(timeout)
    if why is not None:
        raise UploadError(f"cannot upload to https://{HUB_HOST}/{hf_repo}: {why}; "
                          + push_instructions(repo_dir, hf_repo))
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(hf_repo, repo_type="model", exist_ok=True)
        api.upload_folder(folder_path=str(repo_dir), repo_id=hf_repo, repo_type="model",
                          commit_message="Update model", ignore_patterns=[".git/*"])
    except Exception as e:  # any hub failure (authentication, network, quota) is reported the same way
        raise UploadError(f"upload to https://{HUB_HOST}/{hf_repo} failed ({type(e).__name__}: {e}); "
                          + push_instructions(repo_dir, hf_repo)) from e


def read_identity_summary(repo_dir: Path) -> str:
    """A short description of a prepared repository (file count, whether the LLM is inside)."""
    files = [p for p in repo_dir.rglob("*") if p.is_file() and ".git" not in p.parts]
    meta = yaml.safe_load((repo_dir / "meta.yaml").read_text(encoding="utf-8")) or {}
    return f"{repo_dir}: {len(files)} files, model {meta.get('files', {}).get('asr_model_file')}"
