# trialgw — `make dev` runs the whole system locally; `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
# The one Python version of the project (.python-version, major.minor): the Lambda runtime (infra reads it), the deps
# layer's wheels, the bytecode every asset ships, the venv's interpreter, mypy's and ruff's targets (a test keeps
# them equal). Moving to a newer Python is that file plus pyproject's requires-python and ruff's and mypy's targets, in
# one change (docs/deploy.md#the-python-version).
PYTHON_VERSION := $(strip $(file < .python-version))
# Prints the running interpreter's path when it is Python $(PYTHON_VERSION), else fails.
IS_PYTHON_VERSION := -c 'import sys; print(sys.executable) if "%d.%d" % sys.version_info[:2] == "$(PYTHON_VERSION)" else sys.exit(1)'
# The interpreter the venv is made with (override: make PYTHON=/path/to/python3.13): python3.13 on PATH when it
# answers (a pyenv shim answers only when pyenv has that version), else pyenv's newest 3.13.x, else ~/.pyenv's.
PYTHON ?= $(shell for candidate in python$(PYTHON_VERSION) \
	$$(ls -d $$(pyenv root 2>/dev/null)/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -rV) \
	$$(ls -d $$HOME/.pyenv/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -rV); do \
	"$$candidate" $(IS_PYTHON_VERSION) 2>/dev/null && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov in a venv of its own: its pins (boto3 1.35, packaging 23) would downgrade the project's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
DEPS_LAYER := build/layers/deps/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help dev test check fmt lint typecheck scan synth cdk-synth deploy layers bench clean
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml .python-version
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python $(PYTHON_VERSION) found (.python-version): none answers as python$(PYTHON_VERSION) on PATH," \
			"in $$(pyenv root 2>/dev/null || echo '<pyenv root>')/versions/$(PYTHON_VERSION).* or in" \
			"$$HOME/.pyenv/versions/$(PYTHON_VERSION).*. Install it (pyenv install $(PYTHON_VERSION)) or run" \
			"make PYTHON=/path/to/python$(PYTHON_VERSION)." >&2; \
		exit 1; \
	fi
	@# A venv of another Python (an older .python-version) is made anew, never patched over.
	if [ -x $(BIN)/python ] && ! $(BIN)/python $(IS_PYTHON_VERSION) >/dev/null; then rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python $(IS_PYTHON_VERSION) >/dev/null || { echo "$(PYTHON) is not Python $(PYTHON_VERSION)" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CHECKOV_STAMP): tools/checkov/requirements.txt | $(STAMP)
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r tools/checkov/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# pip picks the wheels of Lambda's Python and platform; the bytecode comes from the venv's interpreter, which is the
# runtime's version: unchecked-hash, so no zip timestamp makes it stale and no cold start compiles.
$(DEPS_LAYER)/.installed: layers/deps/requirements.txt .python-version | $(STAMP)
	rm -rf build/layers/deps
	$(BIN)/pip install --quiet --no-compile --target $(DEPS_LAYER) --implementation cp --python-version $(PYTHON_VERSION) \
		--platform manylinux2014_aarch64 --only-binary=:all: -r layers/deps/requirements.txt
	$(BIN)/python -m compileall -q --invalidation-mode unchecked-hash $(DEPS_LAYER)
	touch $@

# Our code is copied and compiled on every run (a second or two): build/ never lags behind an edited source.
layers: $(DEPS_LAYER)/.installed | $(STAMP) ## build what Lambda runs into build/: the deps layer (pip, no Docker), the core layer and each function, with bytecode
	$(BIN)/python -m infra.build

dev: $(STAMP) ## run the whole system locally (PORT=8080)
	$(BIN)/python -m infra.local

# node_modules: a test drives CM's Node SDK (package.json) against the local stack; checkov scans the template.
test: $(STAMP) layers node_modules/.installed $(CHECKOV_STAMP) ## run every test (unit, integration, infra, e2e, browser)
	$(BIN)/pytest

check: lint typecheck test ## lint, type-check and test

fmt: $(STAMP) ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP) ## ruff lint and format check, and the architecture's import contract (pyproject's importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy (strict on layers/, functions/ and trialgw_admin/)
	$(BIN)/mypy

synth: $(STAMP) layers ## write the CloudFormation template to cdk.out/ (offline, no Docker)
	$(BIN)/python -m infra.app

scan: synth $(CHECKOV_STAMP) ## checkov on the synthesized template (the tests run it too; README: Security scanners)
	$(CHECKOV_VENV)/bin/checkov -f cdk.out/$$($(BIN)/python -c 'from infra.app import DEFAULT_STACK_NAME as n; print(n)').template.json \
		--framework cloudformation --compact --quiet --skip-download

cdk-synth: $(STAMP) layers node_modules/.installed ## the same synth through the CDK CLI (npx aws-cdk synth), offline
	npx --no-install aws-cdk synth --quiet --no-notices

deploy: $(STAMP) layers node_modules/.installed ## deploy to the AWS account of your credentials (CDK_ARGS="-c k=v")
	npx --no-install cdk deploy --require-approval broadening $(CDK_ARGS)

bench: $(STAMP) layers ## run the benchmarks and print their tables
	$(BIN)/python -m benchmarks

clean: ## remove build output, caches and the virtualenv
	rm -rf $(VENV) $(CHECKOV_VENV) build cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache test-artifacts
