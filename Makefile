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
REQS := requirements-dev.txt layers/cobranza/requirements.txt layers/reports/requirements.txt functions/api/requirements.txt constraints.txt

export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/cobranza
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv tools console system demo serve test test-unit test-integration test-local lint bench clean

help:
	@echo "make demo    - set up, start the local stack, run the sample portfolio through it, print a summary"
	@echo "make test    - set up and run every test (unit, integration on moto, local stack)"
	@echo "make test-shifted - every test with the clock a year ahead, then unit and integration 90 days behind"
	@echo "make serve   - keep the local stack up (AWS on 127.0.0.1:4566, HTTP API on 127.0.0.1:3000)"
	@echo "make lint    - ruff, mypy and the import contracts on the code; cfn-lint, sam validate --lint and checkov on template.yaml; bandit"
	@echo "make bench   - benchmarks; figures in bench/results.json"

$(STAMP): $(REQS)
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.11+ is required (3.12 preferred)"; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@# pip pinned: chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==26.2"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@# the repo and the layer on the venv's path: `.venv/bin/python -m infra.admin` works from anywhere
	@printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/layers/cobranza" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/cobranza-dev.pth"
	@touch $@

venv: $(STAMP)

# The console's map and chart libraries: pinned in infra/console/package-lock.json, fetched from
# the npm registry and checked against the lock's SHA-512 by infra/console/vendor.py (no npm
# needed), into functions/console/static/vendor/ (never loaded from a CDN at run time).
CONSOLE_STAMP := functions/console/static/vendor/VERSIONS.json

$(CONSOLE_STAMP): infra/console/package-lock.json infra/console/vendor.py
	$(PYTHON_BOOT) infra/console/vendor.py

console: $(CONSOLE_STAMP)

# What the tests need from the system (Debian packages, installed when missing, with sudo when
# not root): Debian's Chromium for the browser tests (driven by Playwright's Python package), and
# Pango with a font for the daily report's PDF (WeasyPrint). `make demo` and `make serve` need
# none of them: without Pango the report is written as HTML only.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_PACKAGES := chromium fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0
SYSTEM_STAMP := .local/.system-packages

$(SYSTEM_STAMP):
	@mkdir -p .local
	@if ! command -v chromium >/dev/null || ! $(PYTHON_BOOT) -c 'import ctypes.util as u, sys; sys.exit(0 if u.find_library("pangoft2-1.0") else 1)' \
		|| ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then \
		command -v apt-get >/dev/null || { echo "install Chromium, Pango and the DejaVu fonts (apt-get is missing)"; exit 1; }; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(APT_PACKAGES) || \
		{ $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(APT_PACKAGES); }; fi
	@touch $@

system: $(SYSTEM_STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON_BOOT) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

tools: $(TOOLS_STAMP)

demo: $(STAMP) $(CONSOLE_STAMP)
	$(PY) -m infra.local demo

serve: $(STAMP) $(CONSOLE_STAMP)
	$(PY) -m infra.local serve

# The Schemathesis run of tests/local/product/test_api_fuzz.py uses the tools environment's `st`.
test: $(STAMP) $(TOOLS_STAMP) $(CONSOLE_STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest tests/integration

test-local: $(STAMP) $(TOOLS_STAMP) $(CONSOLE_STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest tests/local

# No test may depend on the day or the hour it runs: the whole suite a year (and 6 hours) ahead, unit
# and integration 90 days (and 12 hours) behind. tests/conftest.py: time-machine in this process,
# COBRANZA_CLOCK_SHIFT_DAYS for the local stack's workers (libfaketime 0.9.10 breaks Python 3.12).
# The Schemathesis run is left out: its dates are generated, not today's, and it takes minutes.
.PHONY: test-shifted
test-shifted: $(STAMP) $(TOOLS_STAMP) $(CONSOLE_STAMP) $(SYSTEM_STAMP)
	$(PY) -m pytest --shift-days=365.25 --ignore=tests/local/product/test_api_fuzz.py
	$(PY) -m pytest --shift-days=-90.5 tests/integration tests/unit

# checkov pins a boto3 that aws-sam-cli refuses: it gets its own environment inside .tools.
CHECKOV_STAMP := $(TOOLS)/checkov/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(TOOLS)/checkov/bin/python || $(PYTHON_BOOT) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

# Exceptions are made where they apply, with their reason: `Metadata: checkov: skip:` on a resource,
# `# nosec BXXX  # reason` on a line. bandit leaves out tests/ and bench/: they run locally against
# moto and are never deployed (asserts are pytest's idiom, credentials are moto's dummies).
lint: $(STAMP) $(TOOLS_STAMP) $(CHECKOV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(TOOLS)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/checkov/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet
	@# bandit 1.9 warns "nosec encountered ... but no failed test" for every line of a statement that
	@# holds a nosec (PyCQA/bandit#1352, #1041): that noise is dropped; findings and the exit code are not.
	$(TOOLS)/bin/bandit --recursive functions layers infra --quiet 2> >(grep -v 'but no failed test on file' >&2)

build: $(TOOLS_STAMP) $(CONSOLE_STAMP)
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" PYENV_VERSION=3.11.7:3.12.1 $(TOOLS)/bin/sam build

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .local .pytest_cache bench/out bench/.data
