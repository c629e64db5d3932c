#!/usr/bin/env bash
# Data of the mini_bilingual recipe.
#
# asr.sh stage 1: generate the bundled synthetic Mandarin/English corpus
# (espnet_llm_entropy.bin.make_mini_corpus) into data/local/mini_corpus,
# copy its Kaldi dirs to data/{train,dev,test,nonspeech,nonspeech_dev}, and build the small
# corpus-matched LLM (espnet_llm_entropy.bin.make_tiny_llm: the training
# transcripts plus template text, dev/test sentences kept out) into
# data/local/tiny_llm unless --llm_dir names an existing model. The defaults
# are the demo's (python -m espnet_llm_entropy.bin.demo), so the recipe
# trains what the demo shows.
# asr.sh stage 4 (called with --asr_data_dir): phone targets, shared with
# the other llm_asr1 recipes.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

if [[ " $* " =~ [[:space:]]--asr_data_dir[[:space:]] ]]; then
    exec ../../TEMPLATE/llm_asr1/phone_targets.sh "$@"
fi

num_train=10000
num_dev=60
num_test=60
num_speakers=20
seed=0
nj=2
an4_dir=          # directory with ESPnet's mini_an4 downloads.tar.gz (adds real AN4 speech/noise);
                  # default: this checkout's egs2/mini_an4/asr1 when it holds the archive, as the demo does
llm_dir=data/local/tiny_llm

# shellcheck disable=SC1091
. utils/parse_options.sh

if [ $# -ne 0 ]; then
    log "Usage: $0 [--num_train N] [--num_dev N] [--num_test N] [--num_speakers N] [--seed S] [--nj N] [--an4_dir DIR] [--llm_dir DIR]"
    exit 2
fi

# shellcheck disable=SC1091
. ./path.sh

if [ -z "${an4_dir}" ] && [ -f ../../mini_an4/asr1/downloads.tar.gz ]; then
    an4_dir=../../mini_an4/asr1
fi

corpus=data/local/mini_corpus
opts=(--out_dir "${corpus}" --num_train "${num_train}" --num_dev "${num_dev}"
      --num_test "${num_test}" --num_speakers "${num_speakers}" --seed "${seed}" --nj "${nj}")
if [ -n "${an4_dir}" ]; then
    opts+=(--an4_dir "${an4_dir}")
fi
log "Mini corpus -> ${corpus}"
python3 -m espnet_llm_entropy.bin.make_mini_corpus "${opts[@]}"

for dset in train dev test nonspeech nonspeech_dev; do
    utils/copy_data_dir.sh --validate_opts --non-print "${corpus}/${dset}" "data/${dset}"
done

if [ -f "${llm_dir}/config.json" ]; then
    log "LLM: ${llm_dir} exists"
else
    log "LLM: small causal LM pretrained on data/train/text + template text -> ${llm_dir}"
    python3 -m espnet_llm_entropy.bin.make_tiny_llm --text data/train/text \
        --heldout_text data/dev/text data/test/text --out_dir "${llm_dir}" --seed "${seed}"
fi
log "Successfully finished. [elapsed=${SECONDS}s]"
