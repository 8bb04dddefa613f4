# The two commands of the README: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-run
DEMO_SIZE ?= 2048
STAMP := $(VENV)/.installed

.PHONY: demo demo-batch test lint bench setup tools slurm

setup: $(STAMP) tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

tools:
	@bash scripts/install-tools.sh || [ "$${CI:-}" != "true" ]

# A one-node Slurm for the cluster tests: started under CI=true (elsewhere those tests skip
# and say how to start it: `bash scripts/start-slurm.sh` as root).
slurm:
	@if [ "$${CI:-}" = "true" ]; then bash scripts/start-slurm.sh; fi

demo: setup
	$(BIN)/aw-tui demo $(DEMO_DIR) --size $(DEMO_SIZE)

demo-batch: setup
	$(BIN)/aw-tui demo $(DEMO_DIR) --size $(DEMO_SIZE) --batch

test: setup slurm
	$(BIN)/ruff check aw_tui tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check aw_tui tests
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python tests/benchmarks/run_all.py
