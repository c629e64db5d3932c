#!/usr/bin/env bash
# Run the GPU variants of the benchmarks (bf16, feature input, paper-size LLM) on a CUDA
# machine whose Python already has torch/transformers/peft, writing logs to ${OUT:-./gpu_out}.
#
# ESPnet and typeguard are installed from wheels in .whl/ when they are not importable
# (a machine without network access); transformers/peft/tokenizers/huggingface_hub wheels
# in .whl/hf/ are used only when the installed transformers is older than 5.
#
#   bash bench/run_gpu_benchmarks.sh            # everything (about 6-8 minutes on an H100)
#   QUICK=1 bash bench/run_gpu_benchmarks.sh    # smoke run
set -u
OUT=${OUT:-./gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SITE=/tmp/bench_site
export PYTHONUNBUFFERED=1 PYTHONPATH="$SITE:$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
quick=()
[ "${QUICK:-0}" = 1 ] && quick=(--quick)

if ! $PY -c "import espnet2, typeguard" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || exit 1
fi
if ! $PY -c "import transformers, sys; sys.exit(int(transformers.__version__.split('.')[0]) < 5)"; then
  $PY -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" .whl/hf/*.whl || exit 1
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
} 2>&1 | tee "$OUT/versions.log"

run() {  # run <log name> <timeout s> <args...>
  local name=$1 limit=$2
  shift 2
  echo "=== $name: $*" | tee -a "$OUT/summary.md"
  timeout "$limit" $PY "$@" "${quick[@]}" > "$OUT/$name.log" 2>&1
  echo "exit $?" >> "$OUT/$name.log"
  grep -v -i -E "warn|loading weights|legacy|flash|autocast|writing model" "$OUT/$name.log" \
    | sed -n '/^## /,$p' | tee -a "$OUT/summary.md"
}

common=(--device cuda --dtype bf16 --features --work-dir /tmp/bench_llms)
run efficiency_lora 170 bench/bench_efficiency.py --size paper "${common[@]}" \
  --batch-size 32 --min-seconds 4 --max-seconds 12 --train-mode lora --steps 5
run efficiency_full 170 bench/bench_efficiency.py --size paper "${common[@]}" \
  --batch-size 32 --min-seconds 4 --max-seconds 12 --train-mode full --steps 5
run train_step_paper 200 bench/bench_train_step.py --size paper "${common[@]}" \
  --batch-size 16 --min-seconds 4 --max-seconds 12 --steps 5 \
  --systems ours-lora ours-frozen espnet-frozen espnet-full
run inference_paper 150 bench/bench_inference.py --size paper "${common[@]}" \
  --utts 32 --new-tokens 32
