# leantune: `make quickstart` and `make test` are all a newcomer needs.
# Both create .venv on first use; only the package index is needed.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# The first Python >= 3.11 on PATH (override: make test PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)

.PHONY: quickstart test test-oldest test-system lint format clean bench bench-smoke bench-memory typecheck

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "leantune needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

quickstart: $(VENV)/.installed
	$(BIN)/leantune run examples/quickstart.yaml

# The suite, in 7 to 9 minutes on 2 cores: real Ray trials, a real sqlite MLflow store.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -m "not system"

# Whole-system scenarios, about 6 minutes more (CI runs them): signals and resume across real
# processes, a killed worker, a 2-node Ray cluster, MLflow servers (one on PostgreSQL), a full
# disk, the thesis with both training backends.
test-system: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m system

# The lower bounds of pyproject.toml, installed exactly (pip's --constraint with == pins), and
# the tests that reach each dependency: the spec and schema, MLflow's store and model, the
# report, and a real study on Ray. Installs a second environment, .venv-oldest (a few minutes).
OLDEST := .venv-oldest
OLDEST_TESTS := tests/spec tests/tracking/test_mlflow.py tests/tracking/test_model.py \
	tests/report/test_report_reading.py tests/cli/test_summary.py tests/test_api_names.py \
	tests/cli/test_cli_habits.py tests/study/test_run_study.py

test-oldest:
	@test -n "$(PYTHON)" || { echo "leantune needs Python 3.11 or newer on PATH"; exit 1; }
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -c 'import re, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		deps = p["dependencies"] + p["optional-dependencies"]["dev"]; \
		print("\n".join(re.sub(r"\[.*\]", "", d).replace(">=", "==") for d in deps if ">=" in d))' \
		> $(OLDEST)/constraints.txt
	$(OLDEST)/bin/python -m pip install --quiet --constraint $(OLDEST)/constraints.txt -e ".[dev]"
	$(OLDEST)/bin/python -m pip freeze | grep -iE '^(ray|mlflow|scikit-learn|pandas|numpy|pydantic|optuna|typer)=='
	$(OLDEST)/bin/python -m pytest -x -q -m "not system" $(OLDEST_TESTS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# mypy --strict on the Ray-free core: trials, results, search ([tool.mypy] in pyproject.toml).
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Private memory per trial worker on kddcup, shared zero-copy vs a per-trial copy (BENCHMARKS.md).
# Every benchmark figure, written to BENCHMARKS.md (about an hour on 2 cores).
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py

# Every harness path at tiny sizes (about 2 minutes): keeps the harness working; asserts no time.
bench-smoke: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py --smoke

bench-memory: $(VENV)/.installed
	$(BIN)/python benchmarks/memory_per_worker.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
