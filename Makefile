# Two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint format lab bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

## run the quickstart notebook headless on the embedded engine
demo: $(VENV)/.installed
	$(BIN)/sqlweave run notebooks/quickstart.ipynb -o notebooks/quickstart.out.ipynb

## ruff, then the whole test suite
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## JupyterLab on 127.0.0.1 with the notebooks folder, opening the quickstart (root needs --allow-root)
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[lab]'
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(LAB_ROOT) notebooks/quickstart.ipynb

## benchmarks (printed tables; not part of the tests)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/tpch.py --sf 1 --engines raw-datafusion,local,duckdb
	$(BIN)/python bench/lineage.py

clean:
	rm -rf $(VENV) notebooks/data notebooks/*.out.ipynb .pytest_cache .ruff_cache
