# jichitai — `make demo` and `make test` do everything on a fresh Debian machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .demo
DEMO_FLAGS ?=
PYTEST_FLAGS ?=

.PHONY: help demo test lint typecheck unit sysdeps postgres clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/.installed ## install into .venv, seed a demo municipality, start every zone on loopback
	@bash scripts/ensure-demo-deps.sh
	JICHITAI_KEYSTORE_PASSPHRASE=$${JICHITAI_KEYSTORE_PASSPHRASE:-demo-passphrase-not-for-production} \
	  $(BIN)/jichitai --home $(DEMO_HOME) demo $(DEMO_FLAGS)

sysdeps: ## install the Debian packages the tests need (when missing)
	@bash scripts/ensure-system-deps.sh

postgres: ## make sure a PostgreSQL server answers for the tests
	@bash scripts/ensure-postgres.sh

lint: $(BIN)/.installed-test ## ruff
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed-test ## mypy --strict
	$(BIN)/mypy

test: $(BIN)/.installed-test sysdeps postgres lint typecheck ## everything: lint, types, the whole suite on SQLite and PostgreSQL
	set -a; [ -f .pg-test.env ] && source .pg-test.env; set +a; \
	  $(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_FLAGS)

bench: $(BIN)/.installed-test ## list the benchmarks (run each by hand; see bench/README.md)
	@cat bench/README.md

clean: ## remove the venv, demo data and caches
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache .pg-test.env
