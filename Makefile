# obs-tests — every target does its own set-up on a fresh Debian 12 machine (root or sudo), idempotently.
#
#   make check   install what is missing, start the embedded stack, run the validation suite, report
#   make test    install what is missing, lint, run the project's own tests
#   make lint    the import layers (import-linter) + ruff + ruff format --check + mypy
#   make bench   run the benchmarks (prints numbers; see benchmarks/README.md)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter \
	nats-server redis-server docker-compose chromium chromium-driver npm
PYTEST_ARGS ?= --durations=25
# line and branch coverage of obs_tests/ (also in the processes the tests start): the total, reports/coverage.xml,
# and a failure below the floor ([tool.coverage.report] fail_under); COVERAGE_ARGS= for a run of a few tests
COVERAGE_ARGS ?= --cov --cov-report=xml
LINT_PATHS := $(wildcard obs_tests tests benchmarks load)

.PHONY: help deps venv check test lint lint-imports format bench clean

help:
	@sed -n 's/^#   //p' Makefile

# Debian packages: only what is missing, with --no-install-recommends. No daemon is started here.
# npm counts as there when the command is (e.g. NodeSource's nodejs ships it, and conflicts with Debian's npm).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  if [ "$$p" = npm ] && command -v npm >/dev/null; then continue; fi; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The virtualenv with the project and its dev extras; reinstalled when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml constraints.txt
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null
	@$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

check: deps venv
	@rc=0; $(BIN)/obs-tests check || rc=$$?; \
	echo "obs-tests is in $(VENV)/: run ./obs-tests from here, or 'source $(VENV)/bin/activate' once per shell"; \
	exit $$rc

lint: venv lint-imports
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

# the layers contract of pyproject.toml ([tool.importlinter]): no import runs back up, none into the demo
lint-imports: venv
	$(BIN)/lint-imports --no-cache

format: venv
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

test: deps venv lint
	$(BIN)/pytest $(PYTEST_ARGS) $(COVERAGE_ARGS) $(if $(OBS_TEST_JUNIT),--junitxml=$(OBS_TEST_JUNIT))

bench: deps venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) reports .mypy_cache .ruff_cache .pytest_cache
