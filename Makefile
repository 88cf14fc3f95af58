# Two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint format lab labextension bench clean

# the JupyterLab extension: TypeScript in labextension/, built into the Python package
LABEXT_BUILT := sqlweave/labextension/static/style.js
LABEXT_SRC   := $(wildcard labextension/src/*.ts labextension/style/*) \
                labextension/package.json labextension/yarn.lock labextension/tsconfig.json
JLPM         := PATH=$(abspath $(BIN)):$$PATH jlpm

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip

# the demo notebooks build pandas DataFrames: the pandas extra comes with the demo install
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[pandas]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

## run the quickstart notebook headless on the embedded engine
demo: $(VENV)/.installed
	$(BIN)/sqlweave run notebooks/quickstart.ipynb -o notebooks/quickstart.out.ipynb

## (re)build the JupyterLab extension from labextension/ when its sources changed (needs node)
labextension: $(LABEXT_BUILT)

$(LABEXT_BUILT): $(LABEXT_SRC) | $(VENV)/.installed-dev
	@if command -v node >/dev/null 2>&1; then \
	  cd labextension && $(JLPM) install --immutable && $(JLPM) build:prod; \
	else \
	  echo "warning: no node here: the JupyterLab extension is not rebuilt"; \
	fi

## ruff, then the whole test suite (browser tests included: they need chromium)
test: $(VENV)/.installed-dev labextension
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/jupyter labextension list 2>&1 | grep -E "sqlweave .*enabled.*OK"
	@if command -v node >/dev/null 2>&1; then cd labextension && $(JLPM) test; fi
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
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) notebooks/data notebooks/*.out.ipynb .pytest_cache .ruff_cache \
	  sqlweave/labextension labextension/lib labextension/node_modules labextension/.yarn
