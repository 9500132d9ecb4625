# The two commands of the README: `make run` and `make test`. Both set up the virtual
# environment at .venv first (pip only; conda users see environment.yml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE_ARGS ?=
LOCK := requirements.lock
LOCK_PYTHON := 3.11
LOCK_TOOLS := build/lock-tools
UV_VERSION ?= 0.13.9
LOCK_ARGS ?=

.PHONY: run test test-e2e test-all lint venv lock docs bench clean

# The environment is exactly the lock (requirements.lock: every package of
# `pip install -e '.[test,slurm]'`, pip and setuptools included, pinned with hashes). It is
# rebuilt from scratch whenever the lock or pyproject.toml changes, so nothing outside the
# lock stays behind. pip refuses an editable install in hash-checking mode, hence two steps.
$(BIN)/snakemake: $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/snakemake

# Refresh the lock after changing a dependency in pyproject.toml (the lower bounds live
# there): `make lock` keeps every pin that still fits and adds what is new;
# `make lock LOCK_ARGS=--upgrade` moves every package to its newest allowed version, and
# `LOCK_ARGS='--upgrade-package numpy'` just one. One set of versions for every platform
# (--universal, --fork-strategy fewest), resolved for the oldest supported Python, with
# the hashes of every file on the index. Then `make venv` rebuilds the environment.
$(LOCK_TOOLS)/bin/uv:
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(LOCK_TOOLS)/bin/uv
	if [ -f $(LOCK) ]; then cp $(LOCK) $(LOCK).new; fi
	printf 'pip\nsetuptools>=68\n' | $(LOCK_TOOLS)/bin/uv pip compile --quiet \
	    pyproject.toml - --extra test --extra slurm --universal --fork-strategy fewest \
	    --python-version $(LOCK_PYTHON) --generate-hashes \
	    --custom-compile-command 'make lock' $(LOCK_ARGS) -o $(LOCK).new
	{ printf '# Python: resolved for CPython %s (requires-python in pyproject.toml); made with %s and uv %s.\n' \
	    '$(LOCK_PYTHON)' "$$($(PYTHON) -c 'import platform; print(platform.python_implementation(), platform.python_version())')" \
	    '$(UV_VERSION)'; grep -v '^# Python: ' $(LOCK).new; } > $(LOCK).tmp
	rm -f $(LOCK).new
	if cmp -s $(LOCK).tmp $(LOCK); then rm $(LOCK).tmp; echo '$(LOCK) unchanged'; \
	else mv $(LOCK).tmp $(LOCK); echo '$(LOCK) updated: commit it; make venv rebuilds .venv'; fi

run: venv
	$(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) $(SNAKEMAKE_ARGS)

# Two tiers (README, "Tests"): `make test` is the fast tier a developer runs often (every
# test but the end-to-end runs, on all cores); `make test-e2e` runs the whole pipeline for
# real (Snakemake on the tiny configs, faults, replay, browser, cluster), in one process:
# each run already uses both cores and the session's runs are shared. CI runs both.
TEST_WORKERS ?= auto
test: venv
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS)

test-e2e: venv
	$(BIN)/pytest -m slow

test-all: test test-e2e

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
