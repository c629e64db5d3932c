#!/usr/bin/env bash
# mini_bilingual/llm_asr1: the method on the bundled synthetic Mandarin/English
# corpus, sized for a CPU (a few minutes on 2 cores). See README.md.
set -e
set -u
set -o pipefail

train_set=train
valid_set=dev
test_sets="test nonspeech"      # nonspeech: silence and noise, scored for hallucination only

asr_config=conf/train_llm_asr.yaml      # stage 10 statistics (and stage 11 without a method config)
method_config=conf/method.yaml          # stage 11: the method's four trainings; empty: one training of asr_config
inference_config=conf/decode.yaml
llm_dir=data/local/tiny_llm     # built by local/data.sh (stage 1) unless it exists

./llm_asr.sh \
    --ngpu 0 \
    --nj 2 \
    --inference_nj 2 \
    --fs 16000 \
    --audio_format flac \
    --feats_normalize utterance_mvn \
    --llm_dir "${llm_dir}" \
    --method_config "${method_config}" \
    --nonspeech_sets nonspeech \
    --gate_calibration_sets "data/${valid_set} data/nonspeech_dev" \
    --pack_llm true \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
