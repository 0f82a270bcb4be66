SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TS    := clients/ts
# uv installs the dev/test environment from uv.lock; it is itself pinned in the dev extra (the
# same version), so the lock keeps it. Python comes from the machine, never downloaded.
UV_VERSION := 0.13.9
UV    := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv
# `make test-latest` sets LATEST=1: the newest versions pyproject.toml's ranges allow, no lock.
LATEST ?=

.PHONY: all venv lock test-latest system-deps node-deps lint typecheck schemas check-schemas pytest ts test run docs bench clean

all: test

# --compile-bytecode: what pip does at install, so a command's start-up reads bytecode instead of
# compiling every module it imports (~0.25 s of CPU per `artreg` process when
# PYTHONDONTWRITEBYTECODE keeps Python from caching it on first use).
$(STAMP): pyproject.toml uv.lock Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install -q --disable-pip-version-check 'uv==$(UV_VERSION)'
ifeq ($(LATEST),)
	$(UV) sync --locked --quiet --compile-bytecode --python $(PY) --extra all --extra dev
else
	$(UV) pip install --quiet --compile-bytecode --python $(PY) --upgrade --resolution highest -e '.[all,dev]'
	$(UV) pip list --python $(PY) --format freeze > $(VENV)/resolved.txt
endif
	touch $(STAMP)

venv: $(STAMP)

# Re-resolve uv.lock from pyproject.toml (keeps current pins where they still satisfy the ranges;
# `make lock ARGS=--upgrade` moves everything to the newest allowed). Commit an upgrade on its own.
lock:
	test -x $(VENV)/bin/uv || { python3 -m venv $(VENV) && $(PY) -m pip install -q 'uv==$(UV_VERSION)'; }
	$(UV) lock --python $(PY) $(ARGS)

# The whole suite against the newest releases pyproject.toml allows, in a throwaway venv: how an
# upgrade would go, before it is a decision. Not part of CI; CI=true, so a missing peer fails.
test-latest:
	rm -rf .venv-latest
	CI=true $(MAKE) test VENV=.venv-latest LATEST=1
	@echo "newest versions tested: .venv-latest/resolved.txt"

system-deps:
	@bash scripts/system-deps.sh

node-deps:
	@if [ -f $(TS)/package.json ]; then \
	  if [ ! -d $(TS)/node_modules ] || [ $(TS)/package-lock.json -nt $(TS)/node_modules/.package-lock.json ]; then \
	    (cd $(TS) && npm ci --no-audit --no-fund --loglevel=error); fi; fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

# Regenerate schemas/ (JSON Schema per wire type, openrpc.json) and the TypeScript types.
schemas: venv node-deps
	$(PY) -m artreg.schemagen write
	@if [ -f $(TS)/package.json ]; then cd $(TS) && npm run --silent generate; fi

check-schemas: venv
	$(PY) -m artreg.schemagen check

pytest: venv system-deps node-deps
	$(VENV)/bin/pytest

# The TypeScript client: build, type-check (package, tests, example), generated-file drift, node tests
# against a real `artreg serve`.
# The node tests run a real `artreg serve`: ARTREG_BIN points them at this venv's (test-latest has its own).
ts: venv node-deps
	cd $(TS) && npm run --silent build && npm run --silent typecheck && npm run --silent check-generated && ARTREG_BIN=$(abspath $(VENV))/bin/artreg npm test

test: venv system-deps node-deps lint typecheck pytest ts

# artreg's main job on the embedded default: the local registry and the JSON-RPC sidecar.
run: venv
	$(VENV)/bin/artreg serve --data-dir .artreg-data

docs: venv
	$(VENV)/bin/mkdocs build --strict -f docs-site/mkdocs.yml

bench: venv system-deps
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TS)/node_modules $(TS)/dist docs-site/site .mypy_cache .ruff_cache .pytest_cache
