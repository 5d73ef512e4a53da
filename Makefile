# Wavora — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench install services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Embedded dev mode: SQLite, embedded Redis, GOWA simulator, worker, beat, web. Ctrl-C stops all.
run: install
	$(BIN)/python -m wavora.devstack

## Starts PostgreSQL and Redis on 127.0.0.1 if they are down.
services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

test: install services lint
	bash scripts/ensure-chromium.sh
	WAVORA_ENV=test $(BIN)/python -m pytest

bench: install services
	WAVORA_ENV=production $(BIN)/python bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
