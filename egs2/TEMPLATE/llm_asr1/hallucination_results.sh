#!/usr/bin/env bash
# Stage 13, continued: hallucination metrics of every decoded test set,
# appended to the RESULTS.md that asr.sh's stage 13 wrote.
#
# For each <asr_exp>/<inference_tag>/<set>/text: runs
# espnet_llm_entropy.bin.score_hallucination (reference-based for speech
# sets, output-on-non-speech for --nonspeech_sets) into
# <asr_exp>/<inference_tag>/<set>/hallucination/, then rewrites
# <asr_exp>/RESULTS.md as asr.sh's content plus one section of tables.
set -e
set -u
set -o pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}

python_exe=python3
asr_exp=
data_feats=dump/raw
test_sets=
valid_set=        # asr.sh decodes a test set equal to it from <data_feats>/org/<set> into <tag>/org/<set>
nonspeech_sets=

# shellcheck disable=SC1091
. utils/parse_options.sh

if [ -z "${asr_exp}" ] || [ -z "${test_sets}" ]; then
    log "Usage: $0 --asr_exp EXP --test_sets SETS [--nonspeech_sets SETS] [--data_feats DIR]"
    exit 2
fi
if [ ! -f "${asr_exp}/RESULTS.md" ]; then
    log "Error: ${asr_exp}/RESULTS.md is missing: run asr.sh's stage 13 first"
    exit 1
fi

# shellcheck disable=SC1091
. ./path.sh

tables=()
for dset in ${test_sets}; do
    subdir=${dset}
    if [ "${dset}" = "${valid_set}" ]; then
        subdir=org/${dset}
    fi
    data=${data_feats}/${subdir}
    if [ ! -f "${data}/wav.scp" ]; then
        log "Error: ${data}/wav.scp is missing (test set ${dset} was not formatted by stage 3)"
        exit 1
    fi
    nonspeech=false
    if [[ " ${nonspeech_sets} " =~ [[:space:]]${dset}[[:space:]] ]]; then
        nonspeech=true
    fi
    found=false
    for hyp in "${asr_exp}"/*/"${subdir}"/text; do
        [ -f "${hyp}" ] || continue
        found=true
        dir=$(dirname "${hyp}")
        tag=${dir#"${asr_exp}"/}
        tag=${tag%/"${subdir}"}
        opts=(--hyp "${hyp}" --wav_scp "${data}/wav.scp" --out_dir "${dir}/hallucination" --dataset "${tag}/${dset}")
        if "${nonspeech}"; then
            opts+=(--nonspeech)
        else
            opts+=(--ref "${data}/text")
        fi
        log "Hallucination metrics: ${dir}"
        ${python_exe} -m espnet_llm_entropy.bin.score_hallucination "${opts[@]}" > /dev/null
        tables+=("${dir}/hallucination/hallucination.md")
    done
    if ! "${found}"; then
        log "Error: no decoding result ${asr_exp}/*/${subdir}/text (run stage 12 first)"
        exit 1
    fi
done

{
    # asr.sh's part (a section from an earlier run of this script is dropped)
    awk '/^## Hallucination: /{exit} /^$/{blank++; next} {for (; blank > 0; blank--) print ""; print}' \
        "${asr_exp}/RESULTS.md"
    echo
    echo "## Hallucination: ${asr_exp}"
    echo
    echo "Computed by \`python -m espnet_llm_entropy.bin.score_hallucination\` from the hypotheses above."
    for table in "${tables[@]}"; do
        echo
        sed -e 's/^### /#### /' "${table}"
    done
} > "${asr_exp}/RESULTS.md.tmp"
mv "${asr_exp}/RESULTS.md.tmp" "${asr_exp}/RESULTS.md"
log "Appended ${#tables[@]} hallucination table(s) to ${asr_exp}/RESULTS.md"
