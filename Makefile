# keyless: the two commands.
#   make demo   create .venv, install keyless and keyless-lab (lab/), run `keyless demo`
#   make test   the same .venv plus test tools and system packages, then lint, types, tests
# Nothing else is needed on a fresh machine than Python 3.11+, make and the package registries.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

# Debian packages the test suite needs: Chromium for the browser tests, and
# libxmlsec1 + pkg-config so python3-saml (the interoperability peer) builds.
SYSTEM_PACKAGES := chromium libxmlsec1-dev libxmlsec1-openssl pkg-config xmlsec1

.PHONY: demo test lint typecheck unit system-deps bench clean help

help:
	@echo "make demo   run the whole federation flow in the embedded lab"
	@echo "make test   lint, type-check and run the full test suite"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "keyless needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# keyless and the lab are two distributions: the product (.) ships no emulator;
# keyless-lab (lab/) plugs `keyless lab` and `keyless demo` into it.
$(VENV)/.lab-installed: pyproject.toml lab/pyproject.toml | $(BIN)/python
	$(PIP) install -e . -e ./lab
	@touch $@

$(VENV)/.test-installed: pyproject.toml lab/pyproject.toml $(VENV)/.system-deps $(VENV)/.checkov | $(BIN)/python
	$(PIP) install -e '.[test]' -e ./lab
	@touch $@ $(VENV)/.lab-installed

# checkov pins an old boto3 that would downgrade the one keyless and moto use,
# so it gets a venv of its own, linked into .venv/bin for the export tests.
CHECKOV_VENV := .venv-checkov
$(VENV)/.checkov: | $(BIN)/python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip --disable-pip-version-check -q install 'checkov>=3.2'
	ln -sf "$$(pwd)/$(CHECKOV_VENV)/bin/checkov" $(BIN)/checkov
	@touch $@

# Installs the Debian packages above when any is missing (needs root or sudo).
$(VENV)/.system-deps: | $(BIN)/python
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

system-deps: $(VENV)/.system-deps

demo: $(VENV)/.lab-installed
	$(BIN)/keyless demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks lab conftest.py
	$(BIN)/ruff format --check src tests benchmarks lab conftest.py

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

# One worker per core, each test file whole on one worker (its module-scoped labs
# are started once and its tests keep their order).
unit: $(VENV)/.test-installed
	$(BIN)/pytest -n auto --dist loadfile

test: lint typecheck unit

# Benchmarks print figures beside their baselines; not part of `make test`.
bench: $(VENV)/.test-installed
	$(PIP) install -e '.[bench]'
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .pytest_cache .ruff_cache test-artifacts
