#!/usr/bin/env bash
# aishell/llm_asr1: LLM-ASR with a phoneme-CTC encoder on AISHELL-1 (178 h
# Mandarin), scored in CER. See README.md.
set -e
set -u
set -o pipefail

train_set=train
valid_set=dev
test_sets="dev test"

asr_config=conf/train_llm_asr.yaml
inference_config=conf/decode.yaml
llm_dir=downloads/Qwen3-1.7B      # a local Hugging Face model directory; or pass --llm_dir DIR
method_config=conf/method.yaml    # stage 11: the four trainings of the method; empty: one training of asr_config

./llm_asr.sh \
    --lang zh \
    --fs 16000 \
    --ngpu 8 \
    --nj 32 \
    --inference_nj 32 \
    --audio_format flac \
    --max_wav_duration 30 \
    --llm_dir "${llm_dir}" \
    --method_config "${method_config}" \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
