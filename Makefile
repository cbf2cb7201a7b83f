# Two entry points (see README): `make demo` sets everything up and starts JupyterLab with Raydata on its
# embedded default; `make test` sets up the same way and runs every test suite. Steps are stamped so
# that a second run only redoes what changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := demo

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Playwright may not download browsers here: the UI tests use Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# Every suite runs in the facility's time zone, not UTC, where local-time bugs would not show.
TEST_TZ := America/New_York
# chromium for the UI tests; slurm-wlm and munge for a real one-node Slurm (scripts/slurm.sh);
# postgresql for a throwaway PostgreSQL that the job store's tests share a queue through (scripts/postgres.sh).
APT_PACKAGES := chromium slurm-wlm munge postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
LAB_PORT ?= 8888

STAMPS := .stamps
TS_SOURCES := $(shell find src style -type f 2>/dev/null)

.PHONY: demo setup system test lint pytest jest ui-tests openapi clean

demo: setup
	jupyter lab $(ROOT_FLAG) --port $(LAB_PORT) --ServerApp.open_browser=False

setup: $(STAMPS)/system $(STAMPS)/python $(STAMPS)/labextension $(STAMPS)/ui-tests

$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMPS)/python: $(VENV)/bin/python pyproject.toml package.json yarn.lock
	@mkdir -p $(STAMPS)
	$(BIN)/pip install -e ".[test]"
	@touch $@

$(STAMPS)/labextension: $(STAMPS)/python package.json yarn.lock tsconfig.json $(TS_SOURCES)
	jlpm install
	jlpm build
	jupyter labextension develop --overwrite .
	jupyter server extension enable --sys-prefix jupyterlab_raydata
	@touch $@

$(STAMPS)/ui-tests: $(STAMPS)/labextension ui-tests/package.json ui-tests/yarn.lock
	cd ui-tests && jlpm install
	@touch $@

test: setup lint pytest jest ui-tests

lint: $(STAMPS)/labextension
	ruff check .
	ruff format --check .
	jlpm lint:check

pytest: $(STAMPS)/python
	TZ=$(TEST_TZ) python -m pytest

jest: $(STAMPS)/labextension
	TZ=$(TEST_TZ) jlpm jest

ui-tests: $(STAMPS)/ui-tests
	cd ui-tests && TZ=$(TEST_TZ) CI=true jlpm playwright test

openapi: $(STAMPS)/python
	python -c "from jupyterlab_raydata.handlers.openapi import main; main()" > docs/openapi.json

clean:
	rm -rf $(STAMPS) lib jupyterlab_raydata/labextension tsconfig.tsbuildinfo
