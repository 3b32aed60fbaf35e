# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PYTHON312 ?= $(shell pyenv prefix 3.12.1 2>/dev/null)/bin/python3
PYTHON313 ?= $(shell pyenv prefix 3.13.0 2>/dev/null)/bin/python3
VENV := .venv
VENV313 := .venv313
STAMPS := .stamps
PY := $(VENV)/bin/python

.PHONY: test lint typecheck pytest package versions bootstrap clean fuzz bench demo issuer token trust-dev-ca debian

# The whole suite on 3.11, the package as the release builds it, the library suite on 3.12 and 3.13.
test: bootstrap lint typecheck pytest package versions

bootstrap: $(STAMPS)/venv $(STAMPS)/venv313 $(STAMPS)/npm debian

# The sample SPA's MSAL.js, pinned by samples/package-lock.json (the local issuer is Python).
$(STAMPS)/npm: samples/package.json samples/package-lock.json
	@mkdir -p $(STAMPS)
	cd samples && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's chromium for the browser tests (never a downloaded browser), certutil (libnss3-tools),
# with which `python -m authorizer trust-dev-ca` makes a browser trust the local issuer's CA, and
# redis-server, the shared store of the rate-limit tests (each test starts its own on loopback).
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
DEBIAN_TOOLS := chromium certutil redis-server
debian:
	@for tool in $(DEBIAN_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium libnss3-tools redis-server; fi

# The development tools run only where AZURE_FUNCTIONS_ENVIRONMENT says Development (in an app's
# folder beside its local.settings.json, func start says it); these targets say it for this checkout.
DEVELOPMENT := AZURE_FUNCTIONS_ENVIRONMENT=Development

# The local issuer alone (https://127.0.0.1:7443), for `func start` against it.
issuer: $(STAMPS)/venv
	$(DEVELOPMENT) $(PY) -m authorizer issuer

# A token from the running local issuer: make token ARGS="--scope Orders.Write --role Orders.Writer"
token: $(STAMPS)/venv
	@$(DEVELOPMENT) $(PY) -m authorizer token $(ARGS)

# Make this user's browsers trust the local issuer's development CA (ARGS=--undo takes it back).
trust-dev-ca: $(STAMPS)/venv
	$(DEVELOPMENT) $(PY) -m authorizer trust-dev-ca $(ARGS)

# The sample app, the local issuer and the sample SPA on embedded defaults (Ctrl-C stops them).
demo: $(STAMPS)/venv $(STAMPS)/npm
	$(DEVELOPMENT) $(PY) -m authorizer.devtools._demo

$(STAMPS)/venv: requirements.txt requirements-dev.txt
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The real Azure Functions Python worker for 3.13 (azure-functions-runtime), for the contract test.
$(STAMPS)/venv313: requirements.txt tests/worker/requirements.txt
	@mkdir -p $(STAMPS)
	@test -x "$(PYTHON313)" || { echo "Python 3.13 not found at '$(PYTHON313)'; set PYTHON313=/path/to/python3.13"; exit 1; }
	test -x $(VENV313)/bin/python || "$(PYTHON313)" -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/worker/requirements.txt
	@touch $@

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/venv
	$(VENV)/bin/mypy

# PYTHON312: the adopter's path in tests/test_adoption.py runs on it.
pytest: bootstrap
	PYTHON312="$(PYTHON312)" $(PY) -m pytest

# The sdist and the wheel, built as the release workflow builds them, installed in a fresh venv.
package: $(STAMPS)/venv
	$(PY) .ci/check_package.py

# The library suite on the other Pythons the worker runs, one nox session each (noxfile.py);
# nox finds python3.12 and python3.13 on PATH (pyenv's here; PYTHON312= and PYTHON313= override).
versions: $(STAMPS)/venv
	@for python in "$(PYTHON312)" "$(PYTHON313)"; do test -x "$$python" || { echo "no Python at '$$python'"; exit 1; }; done
	PATH="$(dir $(PYTHON312)):$(dir $(PYTHON313)):$$PATH" $(VENV)/bin/nox -s library-3.12 library-3.13

# Performance, as ratios to a bare RSA verify measured in the same run (about 8 minutes).
bench: $(STAMPS)/venv $(STAMPS)/venv313
	$(PY) -m bench.run

# The long fuzzing run (20,000 examples per property); `make test` runs a short one.
fuzz: $(STAMPS)/venv
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/test_fuzz.py tests/test_differential.py

clean:
	rm -rf $(VENV) $(VENV313) $(STAMPS) .nox dist .mypy_cache .ruff_cache .pytest_cache samples/node_modules .local-issuer
