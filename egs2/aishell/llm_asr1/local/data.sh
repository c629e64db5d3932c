#!/usr/bin/env bash
# AISHELL-1 for llm_asr1.
# asr.sh stage 1: ESPnet's own egs2/aishell/asr1/local/data.sh (db.sh: AISHELL;
# downloads from OpenSLR 33 when absent) -> data/{train,dev,test}.
# asr.sh stage 4 (--asr_data_dir ...): phone targets, shared by all llm_asr1 recipes.
set -e
set -u
set -o pipefail

if [[ " $* " =~ [[:space:]]--asr_data_dir[[:space:]] ]]; then
    exec ../../TEMPLATE/llm_asr1/phone_targets.sh "$@"
fi
exec ../../TEMPLATE/llm_asr1/espnet_recipe_data.sh \
    --recipe ../../aishell/asr1 --sets "train dev test" -- "$@"
