#!/usr/bin/env bash
# Shared driver of the llm_asr1 recipes.
#
# Runs ESPnet's own asr.sh (symlinked from egs2/TEMPLATE/asr1) with our
# entry points reached through asr.sh's --python prefix
# (espnet_llm_entropy.bin.asr_sh_python), the phone inventory as the token
# list, and, after asr.sh's stage 13, the hallucination tables appended to
# RESULTS.md. Stage 14 (asr.sh's, --skip_packing false) packs through our
# packer (espnet_llm_entropy.bin.llm_asr_pack); stage 15 (--skip_upload_hf
# false) is ours: ESPnet's Hugging Face layout with a model card, then the
# upload. Every option not listed below goes to asr.sh unchanged.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

help_message=$(cat << EOF
Usage: $0 [our options] [asr.sh options]

Our options:
    --llm_dir DIR          Local Hugging Face causal LM directory (config.json,
                           weights, tokenizer files); training gets
                           --llm_conf path=DIR. Needed by LLM-ASR configs.
    --method_config FILE   Stage 11 runs the multi-stage method
                           (python -m espnet_llm_entropy.bin.train_method) with
                           this config instead of one training of --asr_config.
    --nonspeech_sets SETS  Test sets without speech (silence, noise): scored for
                           output on non-speech input, not for CER/WER.
    --python_exe EXE       Python interpreter (default: python3).
    --compare_paradigms BOOL
                           Stage 16 (default false; asr.sh's stages end at 15):
                           the paradigm comparison
                           (python -m espnet_llm_entropy.bin.compare_paradigms)
                           on this recipe's data, token list, statistics and
                           LLM, into <expdir>/paradigm_comparison.
    --compare_paradigms_args ARGS
                           Extra options of stage 16, e.g. "--quick".
    --pack_llm BOOL        Stage 14 also packs the base LLM directory
                           (default false: the pack holds its tokenizer and
                           fingerprint; loading it then needs the LLM).
    --gate_calibration_sets "SPEECH_DIR NONSPEECH_DIR"
                           Before stage 12, choose the CTC-evidence gate's
                           min_ctc_phones on these dev data dirs
                           (python -m espnet_llm_entropy.bin.calibrate_ctc_gate,
                           into <asr_exp>/gate_calibration.json) and decode
                           with it. Never give a test set. Default: none (the
                           inference config's value is used).

Stage 14 (--skip_packing false) writes <asr_exp>/<name>_<model>.zip in ESPnet's
pack format; stage 15 (--skip_upload_hf false --hf_repo USER/NAME) prepares
<expdir>/hf_USER_NAME (ESPnet's model-repository layout + README.md model
card) and uploads it; without a network it fails within seconds and the
folder stays for you to push.

Set here (do not pass them): --python, --token_type (word: the phone
inventory written in stage 4 is the token list; stage 5 is skipped),
--post_process_local_data_opts, --use_lm (false: the LLM is the LM).
Paths given to this script must not contain spaces (asr.sh splits on them).
EOF
)

# Our options
llm_dir=
method_config=
nonspeech_sets=
python_exe=python3
compare_paradigms=false
compare_paradigms_args=
pack_llm=false
gate_calibration_sets=
inference_args=

# asr.sh options read here (and passed on, or merged)
stage=1
stop_stage=10000
skip_stages=
skip_eval=false
lang=noinfo
expdir=exp
dumpdir=dump
feats_type=raw
asr_exp=
asr_config=
asr_args=
train_set=
valid_set=
test_sets=
asr_stats_dir=
speed_perturb_factors=
skip_upload_hf=true
hf_repo=
inference_asr_model=valid.acc.ave.pth

passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "${help_message}"
            exit 0
            ;;
        --*)
            if [ $# -lt 2 ]; then
                log "Error: option $1 needs a value"
                exit 2
            fi
            name=${1#--}
            name=${name//-/_}
            value=$2
            shift 2
            ;;
        *)
            log "${help_message}"
            log "Error: unexpected positional argument '$1'"
            exit 2
            ;;
    esac
    case "${name}" in
        llm_dir|method_config|nonspeech_sets|python_exe|asr_args|skip_stages|compare_paradigms|compare_paradigms_args|pack_llm|skip_upload_hf|hf_repo|gate_calibration_sets|inference_args)
            printf -v "${name}" '%s' "${value}"
            ;;
        python|token_type|post_process_local_data_opts|use_lm)
            log "Error: --${name} is set by $0; remove it from the command line"
            exit 2
            ;;
        stage|stop_stage)
            printf -v "${name}" '%s' "${value}"
            ;;
        skip_eval|lang|expdir|dumpdir|feats_type|asr_exp|asr_config|train_set|valid_set|test_sets|asr_stats_dir|speed_perturb_factors|inference_asr_model)
            printf -v "${name}" '%s' "${value}"
            passthrough+=("--${name}" "${value}")
            ;;
        *)
            passthrough+=("--${name}" "${value}")
            ;;
    esac
done

if [ "${feats_type}" != raw ]; then
    log "Error: --feats_type ${feats_type}: our models read waveforms; use --feats_type raw"
    exit 2
fi
if [ "${compare_paradigms}" != true ] && [ "${compare_paradigms}" != false ]; then
    log "Error: --compare_paradigms ${compare_paradigms}: expected true or false"
    exit 2
fi
for flag in pack_llm skip_upload_hf; do
    if [ "${!flag}" != true ] && [ "${!flag}" != false ]; then
        log "Error: --${flag} ${!flag}: expected true or false"
        exit 2
    fi
done
if [ -n "${method_config}" ] && [ ! -f "${method_config}" ]; then
    log "Error: --method_config ${method_config}: no such file"
    exit 2
fi
# (stage 1 may create it: local/data.sh of the mini recipe does)
if [ -n "${llm_dir}" ] && [ ! -f "${llm_dir}/config.json" ] && [ "${stage}" -gt 1 ] && [ "${stage}" -le 12 ]; then
    log "Error: --llm_dir ${llm_dir}: expected a Hugging Face model directory with config.json"
    exit 2
fi

# asr.sh's own token list path for --token_type word
if [ "${lang}" != noinfo ]; then
    token_list=data/${lang}_token_list/word/tokens.txt
else
    token_list=data/token_list/word/tokens.txt
fi

if [ -z "${asr_exp}" ]; then
    if [ -n "${method_config}" ]; then
        asr_exp=${expdir}/llm_asr_$(basename "${method_config}" .yaml)
    elif [ -n "${asr_config}" ]; then
        asr_exp=${expdir}/llm_asr_$(basename "${asr_config}" .yaml)
    else
        asr_exp=${expdir}/llm_asr
    fi
fi

python_prefix="${python_exe} -m espnet_llm_entropy.bin.asr_sh_python"
if [ -n "${method_config}" ]; then
    python_prefix+=" --method_config ${method_config}"
fi
if "${pack_llm}"; then
    python_prefix+=" --pack_llm true"
fi
post_opts="--token_list ${token_list} --python_exe ${python_exe}"
if [ -n "${valid_set}" ]; then
    post_opts+=" --valid_set ${valid_set}"
fi
if [ -n "${llm_dir}" ]; then
    post_opts+=" --llm_dir ${llm_dir}"
    asr_args="--llm_conf path=${llm_dir} ${asr_args}"
fi

# asr.sh's statistics dir (stage 10) for --token_type word
if [ -z "${asr_stats_dir}" ]; then
    if [ "${lang}" != noinfo ]; then
        asr_stats_dir=${expdir}/asr_stats_${feats_type}_${lang}_word
    else
        asr_stats_dir=${expdir}/asr_stats_${feats_type}_word
    fi
    if [ -n "${speed_perturb_factors}" ]; then
        asr_stats_dir=${asr_stats_dir}_sp
    fi
fi

run_asr_sh() {  # run_asr_sh FIRST_STAGE LAST_STAGE INFERENCE_ARGS
    ./asr.sh \
        --python "${python_prefix}" \
        --token_type word \
        --use_lm false \
        --skip_upload_hf true \
        --skip_stages "5 ${skip_stages}" \
        --post_process_local_data_opts "${post_opts}" \
        --asr_exp "${asr_exp}" \
        --asr_args "${asr_args}" \
        --stage "$1" \
        --stop_stage "$2" \
        --inference_args "$3" \
        "${passthrough[@]}"
}

log "asr.sh through '${python_prefix}'; token list = phone inventory ${token_list}; exp: ${asr_exp}"
if [ -n "${gate_calibration_sets}" ] && [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ] \
        && ! [[ " ${skip_stages} " =~ [[:space:]]12[[:space:]] ]]; then
    read -r gate_speech gate_nonspeech gate_extra <<< "${gate_calibration_sets}"
    if [ -z "${gate_nonspeech}" ] || [ -n "${gate_extra}" ]; then
        log "Error: --gate_calibration_sets '${gate_calibration_sets}': expected two data dirs, dev speech and dev non-speech"
        exit 2
    fi
    if [ "${stage}" -le 11 ]; then
        run_asr_sh "${stage}" 11 "${inference_args}"
    fi
    log "Stage 12 (first): CTC-evidence gate calibrated on ${gate_speech} + ${gate_nonspeech} -> ${asr_exp}/gate_calibration.json"
    if [ -f ./path.sh ]; then
        # shellcheck disable=SC1091
        . ./path.sh
    fi
    ${python_exe} -m espnet_llm_entropy.bin.calibrate_ctc_gate \
        --asr_train_config "${asr_exp}/config.yaml" --asr_model_file "${asr_exp}/${inference_asr_model}" \
        --speech_dir "${gate_speech}" --nonspeech_dir "${gate_nonspeech}" \
        --output "${asr_exp}/gate_calibration.json"
    min_ctc_phones=$(${python_exe} -c "from espnet_llm_entropy.decoding.gate_calibration import read_calibrated_threshold as r; print(r('${asr_exp}/gate_calibration.json'))")
    run_asr_sh 12 "${stop_stage}" "${inference_args} --decoding_guard_conf min_ctc_phones=${min_ctc_phones}"
else
    run_asr_sh "${stage}" "${stop_stage}" "${inference_args}"
fi

# Stage 13, continued: hallucination tables next to ESPnet's scores
if [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 13 ] && ! "${skip_eval}" \
        && ! [[ " ${skip_stages} " =~ [[:space:]]13[[:space:]] ]]; then
    ../../TEMPLATE/llm_asr1/hallucination_results.sh \
        --python_exe "${python_exe}" \
        --asr_exp "${asr_exp}" \
        --data_feats "${dumpdir}/raw" \
        --test_sets "${test_sets}" \
        --valid_set "${valid_set}" \
        --nonspeech_sets "${nonspeech_sets}"
fi

# Stage 15 (ours; asr.sh's would need a network to clone): model repository + upload
if ! "${skip_upload_hf}" && [ "${stage}" -le 15 ] && [ "${stop_stage}" -ge 15 ] \
        && ! [[ " ${skip_stages} " =~ [[:space:]]15[[:space:]] ]]; then
    if [ -z "${hf_repo}" ]; then
        log "Error: stage 15 needs --hf_repo USER/NAME (the model repository on huggingface.co)"
        exit 2
    fi
    packed_model="${asr_exp}/${asr_exp##*/}_${inference_asr_model%.*}.zip"
    log "Stage 15: Hugging Face model repository for ${packed_model} -> ${expdir}/hf_${hf_repo//\//_}"
    if [ -f ./path.sh ]; then
        # shellcheck disable=SC1091
        . ./path.sh
    fi
    ${python_exe} -m espnet_llm_entropy.bin.upload_pack --pack "${packed_model}" \
        --hf_repo "${hf_repo}" --expdir "${expdir}" --lang "${lang}"
fi

# Stage 16: the paradigm comparison on this recipe's data (after asr.sh's stages)
if "${compare_paradigms}" && [ "${stage}" -le 16 ] && [ "${stop_stage}" -ge 16 ]; then
    _train=${train_set}
    if [ -n "${speed_perturb_factors}" ]; then
        _train=${train_set}_sp
    fi
    _test=
    _nonspeech=
    for dset in ${test_sets}; do
        if [[ " ${nonspeech_sets} " =~ [[:space:]]${dset}[[:space:]] ]]; then
            [ -z "${_nonspeech}" ] && _nonspeech=${dset}
        elif [ -z "${_test}" ]; then
            _test=${dset}
        fi
    done
    if [ -z "${_test}" ] || [ -z "${llm_dir}" ]; then
        log "Error: stage 16 needs a speech set in --test_sets and --llm_dir"
        exit 2
    fi
    _opts=(--out_dir "${expdir}/paradigm_comparison"
        --train_dir "${dumpdir}/raw/${_train}" --valid_dir "${dumpdir}/raw/${valid_set}"
        --test_dir "${dumpdir}/raw/${_test}" --llm_dir "${llm_dir}"
        --token_list "${token_list}" --stats_dir "${asr_stats_dir}")
    if [ -n "${_nonspeech}" ]; then
        _opts+=(--nonspeech_dir "${dumpdir}/raw/${_nonspeech}")
    fi
    log "Stage 16: paradigm comparison -> ${expdir}/paradigm_comparison/comparison.md"
    # the recipe's environment (asr.sh sources it for its own stages)
    if [ -f ./path.sh ]; then
        # shellcheck disable=SC1091
        . ./path.sh
    fi
    # shellcheck disable=SC2086
    ${python_exe} -m espnet_llm_entropy.bin.compare_paradigms "${_opts[@]}" ${compare_paradigms_args}
fi
