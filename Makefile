# aelab: `make train` and `make test` set up .venv first when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --constraint constraints.txt
export OMP_NUM_THREADS ?= 1

.PHONY: install train test test-fast lint format bench constraints clean

$(BIN)/aelab-train: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) -e ".[dev,slurm,optuna,reference]"
	# The series metrics' reference implementations, for tests only: their own requirements cannot be met beside
	# aelab's (tsb-ad pins numpy<2; vus pulls tensorflow), and the modules the tests import need none of them.
	$(PIP) --no-deps vus tsb-ad
	touch $@

install: $(BIN)/aelab-train  ## create .venv with the tested versions (constraints.txt) and the dev, slurm, optuna and reference extras

train: install  ## train the default model on the embedded MNIST subset
	$(BIN)/aelab-train $(ARGS)

test: install  ## run the whole test suite (offline): what CI runs
	WANDB_MODE=offline $(BIN)/pytest -q $(ARGS)

test-fast: install  ## the edit loop: everything in-process (no DDP, sweeps, launchers, command-line runs)
	WANDB_MODE=offline $(BIN)/pytest -q -m "not slow and not cli" $(ARGS)

lint: install  ## ruff's checks and its formatting, as the pre-commit hooks run them
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

format: install  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests scripts benchmarks
	$(BIN)/ruff check --fix src tests scripts benchmarks

$(VENV)/.bench: $(BIN)/aelab-train
	$(PIP) -e ".[dev,slurm,optuna,bench]"
	touch $@

bench: $(VENV)/.bench  ## run every benchmark (about 12 min on 2 cores) and write BENCHMARKS.md; ARGS=--quick for a smoke run
	$(BIN)/python benchmarks/run_all.py $(ARGS)

constraints: install  ## rewrite constraints.txt from the versions installed in .venv (after testing them)
	( echo "# The tested set: make install and CI install with --constraint constraints.txt."; \
	  echo "# Written by make constraints from a .venv that passed make test; edit pyproject.toml for the ranges."; \
	  $(BIN)/pip freeze --exclude-editable --all | grep -v -E '^(pip|aelab)==' ) > constraints.txt

clean:
	rm -rf logs .pytest_cache
