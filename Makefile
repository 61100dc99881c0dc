# aelab: `make train` and `make test` set up .venv first when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1

.PHONY: install train test lint bench clean

$(BIN)/aelab-train: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,slurm]"
	touch $@

install: $(BIN)/aelab-train  ## create .venv with everything the project uses

train: install  ## train the default model on the embedded MNIST subset
	$(BIN)/aelab-train $(ARGS)

test: install  ## run the test suite (offline)
	WANDB_MODE=offline $(BIN)/pytest -q $(ARGS)

lint: install
	$(BIN)/ruff check src tests scripts benchmarks

$(VENV)/.bench: $(BIN)/aelab-train
	$(BIN)/pip install --quiet -e ".[dev,slurm,bench]"
	touch $@

bench: $(VENV)/.bench  ## run every benchmark (about 12 min on 2 cores) and write BENCHMARKS.md; ARGS=--quick for a smoke run
	$(BIN)/python benchmarks/run_all.py $(ARGS)

clean:
	rm -rf logs .pytest_cache
