# One command each: `make demo` installs everything and starts the platform with demo data;
# `make test` installs everything and runs the whole test suite against PostgreSQL and Redis.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install system-deps demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -e '.[codecs,dev]'
	touch $@

frontend/node_modules/.installed: frontend/package.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

system-deps:
	@scripts/system-deps.sh

install: $(VENV)/.installed frontend/node_modules/.installed

demo: install
	$(BIN)/sclic demo

test: system-deps install
	@scripts/ensure-services.sh
	$(BIN)/lint-imports
	cd frontend && npm test --silent
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/pytest -q
	@echo "--- the embedded path: the same API, views, CLI and task tests on SQLite"
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -q -m "not browser" \
	  tests/api tests/views tests/test_cli.py tests/services tests/workers/test_tasks.py

lint: install
	$(BIN)/ruff check backend workers tests benchmarks
	$(BIN)/mypy backend workers
	$(BIN)/lint-imports

bench: install
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) frontend/node_modules data
