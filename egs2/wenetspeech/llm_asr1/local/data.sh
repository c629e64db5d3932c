#!/usr/bin/env bash
# WenetSpeech for llm_asr1.
# asr.sh stage 1: ESPnet's own egs2/wenetspeech/asr1/local/data.sh (db.sh:
# WENETSPEECH, a manual download; --set S|M|L picks the training subset)
# -> data/{train_<s|m|l>,dev,test_net,test_meeting}.
# asr.sh stage 4 (--asr_data_dir ...): phone targets, shared by all llm_asr1 recipes.
set -e
set -u
set -o pipefail

if [[ " $* " =~ [[:space:]]--asr_data_dir[[:space:]] ]]; then
    exec ../../TEMPLATE/llm_asr1/phone_targets.sh "$@"
fi

subset=L   # ESPnet's default; the value of --set, when given, wins
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    if [ "${args[i]}" = --set ]; then
        subset=${args[i + 1]}
    fi
done
train_set=train_$(echo "${subset}" | tr "[:upper:]" "[:lower:]")
exec ../../TEMPLATE/llm_asr1/espnet_recipe_data.sh \
    --recipe ../../wenetspeech/asr1 --sets "${train_set} dev test_net test_meeting" -- "$@"
