SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TS    := clients/ts

.PHONY: all venv system-deps node-deps lint typecheck schemas check-schemas pytest ts test run docs bench clean

all: test

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

node-deps:
	@if [ -f $(TS)/package.json ]; then \
	  if [ ! -d $(TS)/node_modules ] || [ $(TS)/package-lock.json -nt $(TS)/node_modules/.package-lock.json ]; then \
	    (cd $(TS) && npm ci --no-audit --no-fund --loglevel=error); fi; fi

lint: venv
	$(VENV)/bin/ruff check .

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
ts: venv node-deps
	cd $(TS) && npm run --silent build && npm run --silent typecheck && npm run --silent check-generated && npm test

test: venv system-deps node-deps lint typecheck pytest ts

# artreg's main job on the embedded default: the local registry and the JSON-RPC sidecar.
run: venv
	$(VENV)/bin/artreg serve --data-dir .artreg-data

docs: venv
	$(VENV)/bin/mkdocs build --strict -f docs-site/mkdocs.yml

bench: venv system-deps
	$(PY) bench/registry_throughput.py
	$(PY) bench/client_throughput.py
	$(PY) bench/rpc_overhead.py

clean:
	rm -rf $(VENV) $(TS)/node_modules $(TS)/dist docs-site/site .mypy_cache .ruff_cache .pytest_cache
