# trialgw — `make dev` runs the whole system locally; `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Lambda runtime the deps layer is built for (must match infra's runtime; a test checks).
LAMBDA_PYTHON := 3.14
DEPS_LAYER := build/layers/deps/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help dev test check fmt lint typecheck synth cdk-synth deploy layers bench clean
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(DEPS_LAYER)/.installed: layers/deps/requirements.txt | $(STAMP)
	rm -rf build/layers/deps
	$(BIN)/pip install --quiet --target $(DEPS_LAYER) --implementation cp --python-version $(LAMBDA_PYTHON) \
		--platform manylinux2014_aarch64 --only-binary=:all: -r layers/deps/requirements.txt
	touch $@

layers: $(DEPS_LAYER)/.installed ## bundle the deps Lambda layer with pip (no Docker)

dev: $(STAMP) ## run the whole system locally (PORT=8080)
	$(BIN)/python -m infra.local

test: $(STAMP) layers ## run every test (unit, integration, infra, e2e, browser)
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

cdk-synth: $(STAMP) layers node_modules/.installed ## the same synth through the CDK CLI (npx aws-cdk synth), offline
	npx --no-install aws-cdk synth --quiet --no-notices

deploy: $(STAMP) layers node_modules/.installed ## deploy to the AWS account of your credentials (CDK_ARGS="-c k=v")
	npx --no-install cdk deploy --require-approval broadening $(CDK_ARGS)

bench: $(STAMP) layers ## run the benchmarks and print their tables
	$(BIN)/python -m benchmarks

clean: ## remove build output, caches and the virtualenv
	rm -rf $(VENV) build cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache test-artifacts
