# cobranza - the two set-up commands are `make demo` and `make test`; nothing else is needed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.12: use it when the machine has it (pyenv or system), else python3.
PYTHON_BOOT := $(shell for c in "env PYENV_VERSION=3.12.1 python3.12" python3.12 python3; do \
	if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then echo "$$c"; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS)/.installed
REQS := requirements-dev.txt layers/cobranza/requirements.txt functions/api/requirements.txt constraints.txt

export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/cobranza
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv tools demo serve test test-unit test-integration test-local lint bench clean

help:
	@echo "make demo    - set up, start the local stack, run the sample portfolio through it, print a summary"
	@echo "make test    - set up and run every test (unit, integration on moto, local stack)"
	@echo "make serve   - keep the local stack up (AWS on 127.0.0.1:4566, HTTP API on 127.0.0.1:3000)"
	@echo "make lint    - cfn-lint (with serverless rules) and sam validate --lint on template.yaml"
	@echo "make bench   - benchmarks; figures in bench/results.json"

$(STAMP): $(REQS)
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.11+ is required (3.12 preferred)"; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@# the repo and the layer on the venv's path: `.venv/bin/python -m infra.admin` works from anywhere
	@printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/layers/cobranza" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/cobranza-dev.pth"
	@touch $@

venv: $(STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON_BOOT) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

tools: $(TOOLS_STAMP)

demo: $(STAMP)
	$(PY) -m infra.local demo

serve: $(STAMP)
	$(PY) -m infra.local serve

test: $(STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-local: $(STAMP)
	$(PY) -m pytest tests/local

lint: $(TOOLS_STAMP)
	$(TOOLS)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam validate --lint --template template.yaml

build: $(TOOLS_STAMP)
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" PYENV_VERSION=3.11.7:3.12.1 $(TOOLS)/bin/sam build

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .local .pytest_cache bench/out bench/.data
