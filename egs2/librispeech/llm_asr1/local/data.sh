#!/usr/bin/env bash
# LibriSpeech (960 h) for llm_asr1.
# asr.sh stage 1: ESPnet's own egs2/librispeech/asr1/local/data.sh, its stages
# 1-3 (db.sh: LIBRISPEECH; download from OpenSLR 12 when absent, Kaldi dirs,
# train_960 and dev = dev_clean + dev_other); its stage 4 (LM text) is not
# needed here. -> data/{train_960,dev,test_clean,test_other,dev_clean,dev_other}.
# asr.sh stage 4 (--asr_data_dir ...): phone targets, shared by all llm_asr1 recipes.
set -e
set -u
set -o pipefail

if [[ " $* " =~ [[:space:]]--asr_data_dir[[:space:]] ]]; then
    exec ../../TEMPLATE/llm_asr1/phone_targets.sh "$@"
fi
exec ../../TEMPLATE/llm_asr1/espnet_recipe_data.sh \
    --recipe ../../librispeech/asr1 \
    --sets "train_960 dev test_clean test_other dev_clean dev_other" \
    -- --stop_stage 3 "$@"
