# The two commands of the README: `make run` and `make test`. Both set up the virtual
# environment at .venv first (pip only; conda users see environment.yml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE_ARGS ?=

.PHONY: run test lint venv docs bench clean

$(BIN)/snakemake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,slurm]'
	touch $@

venv: $(BIN)/snakemake

run: venv
	$(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) $(SNAKEMAKE_ARGS)

test: venv
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint --cores 1

# Refresh the README's figures, tables and speed figures from a run and a benchmark.
bench: venv
	$(BIN)/python benchmarks/bench_engine.py --json > benchmarks/latest.json
	$(BIN)/python benchmarks/bench_engine.py --memory > benchmarks/memory.json

docs: run
	$(BIN)/python tools/update_readme.py

clean:
	rm -rf results .snakemake
