# Two commands on a fresh machine with python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# dg compares the active venv with the project's and warns when they differ.
export VIRTUAL_ENV := $(abspath $(VENV))
MANIFEST := dbt_project/target/manifest.json
# The `train` extra's torch (pyproject.toml pins the same), installed on its own first: pip then
# takes the CPU build on this project's machines, and the extra's packages find it satisfied
# instead of resolving a torch of their own (a bare or newer torch is a CUDA build of several GB).
TORCH := torch==2.13.0

# A .venv made by another Python (an upgrade, or another machine's interpreter) cannot be
# reused: remove it, so the rule below makes a new one with $(PYTHON).
PYTHON_ID = import sys; print(sys.base_prefix, sys.version)
ifneq ($(wildcard $(VENV)),)
ifneq ($(shell $(BIN)/python -c '$(PYTHON_ID)' 2>/dev/null),$(shell $(PYTHON) -c '$(PYTHON_ID)'))
$(info $(VENV) was made by another Python than $(PYTHON): making it again)
$(shell rm -rf $(VENV))
endif
endif

.PHONY: demo test lint ui docs bench bench-ingest bench-live clean

$(BIN)/feedback-platform: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,train,spark]"
	touch $@

# The dbt manifest Dagster loads its dbt assets from, prepared as CI and deployments do.
$(MANIFEST): $(BIN)/feedback-platform $(shell find dbt_project -name '*.sql' -o -name '*.yml' | grep -v target)
	dagster-dbt project prepare-and-package --file feedback_platform/dbt_project.py
	touch $@

demo: $(MANIFEST)
	feedback-platform demo

# Two pytest workers, each test file on one of them (its module-scoped homes are built once):
# most of a test's time is a dbt subprocess, so two run side by side on two cores. The slowest
# tests are listed at the end, so CI's log shows where the suite's time goes.
test: lint $(MANIFEST)
	dg check defs
	python -m pytest -n 2 --dist loadfile --durations=25

lint: $(BIN)/feedback-platform
	ruff check .
	ruff format --check .
	sqlfluff lint dbt_project/models dbt_project/macros

ui: $(MANIFEST)
	feedback-platform ui

docs: $(MANIFEST)
	feedback-platform docs

bench: $(MANIFEST)
	python benchmarks/run.py

bench-ingest: $(BIN)/feedback-platform
	python benchmarks/ingest.py

bench-live: $(MANIFEST)
	python benchmarks/live.py

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs data
