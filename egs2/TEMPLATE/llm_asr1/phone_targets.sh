#!/usr/bin/env bash
# asr.sh stage 4 post-processing (local/data.sh ... --asr_data_dir DIR):
# phone transcripts, the phone inventory (asr.sh's token list) and the LLM
# tokenizer's vocabulary list.
#
#   <asr_data_dir>/text.phn              train phones (text_to_phones)
#   <asr_data_dir>/../<valid_set>/text.phn   valid phones, same inventory
#   <token_list>                         phone inventory of the train set:
#                                        <blank>, <unk>, phones (CTC targets)
#   <token_list dir>/../llm/tokens.txt   LLM vocabulary, one token a line
#                                        (with --llm_dir; for inspection)
#
# Stage 5 is skipped by llm_asr.sh, so nothing overwrites the inventory.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

asr_data_dir=
token_list=
valid_set=
llm_dir=
python_exe=python3
phone_language=auto   # auto, zh or en (text_to_phones --language)

# shellcheck disable=SC1091
. utils/parse_options.sh

if [ -z "${asr_data_dir}" ] || [ -z "${token_list}" ]; then
    log "Usage: $0 --asr_data_dir DUMP_TRAIN_DIR --token_list FILE [--valid_set SET] [--llm_dir DIR]"
    exit 2
fi
if [ ! -f "${asr_data_dir}/text" ]; then
    log "Error: ${asr_data_dir}/text is missing (stage 4 writes it)"
    exit 1
fi

# shellcheck disable=SC1091
. ./path.sh

mkdir -p "$(dirname "${token_list}")"
log "Phone transcripts and inventory: ${asr_data_dir}/text -> ${token_list}"
${python_exe} -m espnet_llm_entropy.bin.text_to_phones \
    --in "${asr_data_dir}/text" --out "${asr_data_dir}/text.phn" \
    --language "${phone_language}" --inventory "${token_list}"

if [ -n "${valid_set}" ]; then
    valid_dir=$(dirname "${asr_data_dir}")/${valid_set}
    if [ -f "${valid_dir}/text" ]; then
        log "Phone transcripts: ${valid_dir}/text (phones outside the train inventory become <unk>)"
        ${python_exe} -m espnet_llm_entropy.bin.text_to_phones \
            --in "${valid_dir}/text" --out "${valid_dir}/text.phn" \
            --language "${phone_language}" --inventory_in "${token_list}" --on_unknown unk
    fi
fi

if [ -n "${llm_dir}" ]; then
    if [ ! -f "${llm_dir}/config.json" ]; then
        log "Error: --llm_dir ${llm_dir}: expected a Hugging Face model directory with config.json"
        exit 1
    fi
    llm_list=$(dirname "$(dirname "${token_list}")")/llm/tokens.txt
    mkdir -p "$(dirname "${llm_list}")"
    log "LLM vocabulary: ${llm_dir} -> ${llm_list}"
    ${python_exe} -m espnet2.bin.hugging_face_export_vocabulary \
        --model_name_or_path "${llm_dir}" --output "${llm_list}"
fi
log "$(wc -l < "${token_list}") phone symbols in ${token_list}"
