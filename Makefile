# The two commands of the README: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-run
DEMO_SIZE ?= 2048
STAMP := $(VENV)/.installed

.PHONY: demo demo-batch test lint bench setup tools test-tools slurm

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The AstrOmatic tools (all `make demo` needs); the tests also use tmux and an SSH server.
tools:
	@bash scripts/install-tools.sh || [ "$${CI:-}" != "true" ]

test-tools:
	@bash scripts/install-tools.sh --test-extras || [ "$${CI:-}" != "true" ]

# A one-node Slurm for the cluster tests: started under CI=true (elsewhere those tests skip
# and say how to start it: `bash scripts/start-slurm.sh` as root).
slurm:
	@if [ "$${CI:-}" = "true" ]; then bash scripts/start-slurm.sh; fi

demo: setup tools
	$(BIN)/aw-tui demo $(DEMO_DIR) --size $(DEMO_SIZE)

demo-batch: setup tools
	$(BIN)/aw-tui demo $(DEMO_DIR) --size $(DEMO_SIZE) --batch

test: setup test-tools slurm
	$(BIN)/ruff check aw_tui tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check aw_tui tests
	$(BIN)/lint-imports

bench: setup tools
	$(BIN)/python tests/benchmarks/run_all.py
