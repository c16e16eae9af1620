# Every target does its own set-up: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install chat test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

## Run the coach (a REPL on a terminal). Extra arguments: make chat ARGS='"hello"'
chat: $(STAMP)
	@$(BIN)/coach chat $(ARGS)

## The whole suite: SQLite, then PostgreSQL on a throwaway local server.
test: $(STAMP)
	$(BIN)/python tests/run_tests.py $(ARGS)

## ruff (lint and format) and mypy.
lint: $(STAMP)
	$(BIN)/ruff check coachcli tests benchmarks
	$(BIN)/ruff format --check coachcli tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
