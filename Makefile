# The two commands of README.md. Each one sets up what it needs first
# (tools/setup_env.sh is idempotent and takes seconds when all is present).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo_out
COMPARE_DIR ?= compare_out
COMPARE_ARGS ?= --quick
# The repository's development copy of ESPnet's mini_an4 archive, passed through the
# demo's --an4_dir option when it exists (elsewhere the demo looks in $ESPNET_ROOT).
AN4_DIR ?= $(wildcard $(abspath ../shared/data/mini_an4))
AN4_OPT := $(if $(AN4_DIR),--an4_dir $(AN4_DIR),)

.PHONY: setup demo test compare
setup:
	bash tools/setup_env.sh $(VENV)

demo: setup
	$(PY) -m espnet_llm_entropy.bin.demo --out_dir $(DEMO_DIR) $(AN4_OPT)

test: setup
	$(PY) -m pytest -q

# the paradigm comparison on the mini corpus (COMPARE_ARGS= for the 3-seed run)
compare: setup
	$(PY) -m espnet_llm_entropy.bin.compare_paradigms --out_dir $(COMPARE_DIR) $(AN4_OPT) $(COMPARE_ARGS)
