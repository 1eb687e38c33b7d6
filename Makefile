# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean cluster screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(BIN)/qianbao init
	$(BIN)/qianbao demo
	$(BIN)/qianbao serve

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src

test: lint
	source scripts/pg-test-server.sh && $(BIN)/python -m pytest

bench: $(VENV)/.test
	source scripts/pg-test-server.sh && $(BIN)/python bench/payments.py

screenshots: $(VENV)/.test
	$(BIN)/python scripts/screenshots.py

cluster: $(VENV)/.run
	$(BIN)/qianbao cluster up

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
