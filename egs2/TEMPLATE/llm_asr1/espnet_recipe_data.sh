#!/usr/bin/env bash
# asr.sh stage 1 for a corpus ESPnet already prepares: run the ESPnet
# recipe's own local/data.sh in that recipe's directory (so its db.sh
# variable, downloads and helper scripts are ESPnet's), then copy the Kaldi
# data dirs it made into this recipe's data/.
#
#   espnet_recipe_data.sh --recipe ../../aishell/asr1 --sets "train dev test" [-- data.sh options]
#
# Relative audio paths in the copied wav.scp (db.sh's default "downloads"
# is relative to the ESPnet recipe) are made absolute.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

recipe=
sets=
while [ $# -gt 0 ]; do
    case "$1" in
        --recipe) recipe=$2; shift 2 ;;
        --sets) sets=$2; shift 2 ;;
        --) shift; break ;;
        *) log "Error: unknown option '$1' (expected --recipe DIR --sets SETS [-- data.sh options])"; exit 2 ;;
    esac
done

if [ -z "${recipe}" ] || [ -z "${sets}" ]; then
    log "Usage: $0 --recipe ESPNET_RECIPE_DIR --sets \"SET ...\" [-- options of its local/data.sh]"
    exit 2
fi
if [ ! -x "${recipe}/local/data.sh" ]; then
    log "Error: ${recipe}/local/data.sh not found: link this recipe into an ESPnet git checkout that has ${recipe#../../}"
    exit 1
fi
recipe_abs=$(cd "${recipe}" && pwd)

log "ESPnet's data preparation: (cd ${recipe} && local/data.sh $*)"
(cd "${recipe}" && local/data.sh "$@")

for dset in ${sets}; do
    src=${recipe}/data/${dset}
    if [ ! -f "${src}/wav.scp" ] || [ ! -f "${src}/text" ]; then
        log "Error: ${src} lacks wav.scp or text after ${recipe}/local/data.sh"
        exit 1
    fi
    log "Copy ${src} -> data/${dset}"
    utils/copy_data_dir.sh --validate_opts --non-print "${src}" "data/${dset}"
    # "<id> <relative path>" -> "<id> <absolute path>"; commands and absolute paths stay
    awk -v root="${recipe_abs}" \
        '{ if (NF == 2 && substr($2, 1, 1) != "/" && $2 !~ /\|$/) $2 = root "/" $2; print }' \
        "data/${dset}/wav.scp" > "data/${dset}/wav.scp.tmp"
    mv "data/${dset}/wav.scp.tmp" "data/${dset}/wav.scp"
done
