#!/usr/bin/env bash
# wenetspeech/llm_asr1: LLM-ASR with a phoneme-CTC encoder on WenetSpeech
# (10k h Mandarin with subset L), scored in CER. See README.md.
set -e
set -u
set -o pipefail

set=L     # training subset of ESPnet's data preparation: S, M or L

train_set=train_$(echo "${set}" | tr "[:upper:]" "[:lower:]")
valid_set=dev
test_sets="test_net test_meeting"

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
    --audio_format wav \
    --max_wav_duration 30 \
    --local_data_opts "--set ${set}" \
    --llm_dir "${llm_dir}" \
    --method_config "${method_config}" \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
