# The two commands of README.md. Each one sets up what it needs first
# (tools/setup_env.sh is idempotent and takes seconds when all is present).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo_out
COMPARE_DIR ?= compare_out
COMPARE_ARGS ?= --quick

.PHONY: setup demo test compare
setup:
	bash tools/setup_env.sh $(VENV)

demo: setup
	$(PY) -m espnet_llm_entropy.bin.demo --out_dir $(DEMO_DIR)

test: setup
	$(PY) -m pytest -q

# the paradigm comparison on the mini corpus (COMPARE_ARGS= for the 3-seed run)
compare: setup
	$(PY) -m espnet_llm_entropy.bin.compare_paradigms --out_dir $(COMPARE_DIR) $(COMPARE_ARGS)
