#!/usr/bin/env bash
# Link this project's egs2 recipes into an ESPnet git checkout.
#
#   tools/link_recipe.sh ESPNET_ROOT [RECIPE ...]
#
# RECIPE is <corpus>/llm_asr1 or just <corpus> (default: every
# egs2/*/llm_asr1 here). For each one this creates ESPNET_ROOT/egs2/<corpus>/llm_asr1/
# as a real directory holding
#   - symlinks to our files (run.sh, conf/, local/, README.md, ...);
#   - the symlinks into ESPnet's TEMPLATE that ESPnet's own recipes have
#     (asr.sh, path.sh, db.sh, scripts, pyscripts, steps, utils ->
#     ../../TEMPLATE/asr1/...), as egs2/TEMPLATE/asr1/setup.sh makes them;
# and ESPNET_ROOT/egs2/TEMPLATE/llm_asr1 -> our shared scripts.
# The directory is real (not one symlink) because ESPnet's path.sh finds the
# checkout as $PWD/../../.. and asr.sh writes data/, dump/ and exp/ there.
# Re-running refreshes the links; files that are not links are never touched.
set -e
set -u
set -o pipefail

usage="Usage: $0 ESPNET_ROOT [RECIPE ...]   (RECIPE: <corpus>/llm_asr1 or <corpus>; default: all)"
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    echo "${usage}"
    [ $# -lt 1 ] && exit 2
    exit 0
fi

espnet_root=$1
shift
ours=$(cd "$(dirname "$0")/.." && pwd)
template_files=(asr.sh path.sh db.sh scripts pyscripts steps utils)

if [ ! -f "${espnet_root}/egs2/TEMPLATE/asr1/asr.sh" ]; then
    echo "$0: ${espnet_root}/egs2/TEMPLATE/asr1/asr.sh not found: ESPNET_ROOT must be an ESPnet git checkout" >&2
    exit 1
fi
espnet_root=$(cd "${espnet_root}" && pwd)

recipes=()
if [ $# -eq 0 ]; then
    for dir in "${ours}"/egs2/*/llm_asr1; do
        corpus=$(basename "$(dirname "${dir}")")
        [ "${corpus}" = TEMPLATE ] && continue
        recipes+=("${corpus}/llm_asr1")
    done
else
    for recipe in "$@"; do
        recipe=${recipe%/}
        [[ "${recipe}" == */* ]] || recipe=${recipe}/llm_asr1
        if [ ! -d "${ours}/egs2/${recipe}" ] || [ "${recipe%%/*}" = TEMPLATE ]; then
            echo "$0: no recipe ${ours}/egs2/${recipe}" >&2
            exit 1
        fi
        recipes+=("${recipe}")
    done
fi

# link NAME TARGET: (re)create the symlink NAME -> TARGET; refuse to replace a real file
link() {
    if [ -e "$1" ] && [ ! -L "$1" ]; then
        echo "$0: $1 exists and is not a symlink; not replacing it" >&2
        exit 1
    fi
    ln -sfn "$2" "$1"
}

link "${espnet_root}/egs2/TEMPLATE/llm_asr1" "${ours}/egs2/TEMPLATE/llm_asr1"

for recipe in "${recipes[@]}"; do
    src=${ours}/egs2/${recipe}
    dst=${espnet_root}/egs2/${recipe}
    mkdir -p "${dst}"
    for path in "${src}"/* "${src}"/.[!.]*; do
        [ -e "${path}" ] || [ -L "${path}" ] || continue
        name=$(basename "${path}")
        case "${name}" in
            data|dump|exp) continue ;;  # outputs of a run made in place, not recipe files
        esac
        target=$(readlink "${path}" || true)
        if [[ "${target}" == ../../TEMPLATE/* ]]; then
            # a link into the shared TEMPLATE stays relative, as in ESPnet's recipes
            link "${dst}/${name}" "${target}"
        else
            link "${dst}/${name}" "${path}"
        fi
    done
    for name in "${template_files[@]}"; do
        link "${dst}/${name}" "../../TEMPLATE/asr1/${name}"
    done
    echo "Linked ${dst} -> ${src}"
done
