# Every README command is a target here. The first run of any target sets everything up.
# Recipes are silent (@), and set-up messages go to stderr, so that `make drill ARGS="... --json"`
# prints only the JSON.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# SETUP= (empty) takes $(VENV) as it is, without installing into it (a virtualenv set up elsewhere).
SETUP ?= $(VENV)/.stamp
PY := $(VENV)/bin/python
# The pinned CLI's own file, run directly: `npx cdk` resolves the name at run time, and when it
# does not see the local bin it looks up npm's unrelated `cdk` package instead (seen on CI).
CDK := $(abspath node_modules/aws-cdk/bin/cdk)
CDK_PIN = $(shell sed -n 's/.*"aws-cdk": "\(.*\)".*/\1/p' package.json)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup drill test lint synth deploy destroy bootstrap check bench try release clean

setup: $(SETUP)

# uv installs the same pinned packages as pip would, in 30 s where pip took 80 s here (CI's set-up is part of its
# `make test`); compiled, as pip leaves them, so that the bench's cold starts import what Lambda's runtime does.
UV_PIN := uv==0.13.8
$(VENV)/.stamp: requirements.txt requirements-dev.txt
	@echo "make setup: creating $(VENV) (Python packages, once)" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check $(UV_PIN) >&2
	@$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt >&2
	@touch $@

node_modules/.stamp: package.json package-lock.json
	@echo "make: installing the pinned CDK CLI (npm ci, once)" >&2
	@npm ci --no-audit --no-fund --silent >&2
	@test -x $(CDK) || { echo "make: npm ci left no $(CDK)" >&2; exit 1; }
	@version="$$($(CDK) --version 2>/dev/null)"; case "$$version" in "$(CDK_PIN) "*|"$(CDK_PIN)") ;; \
	  *) echo "make: the CDK CLI is '$$version', package.json pins $(CDK_PIN)" >&2; exit 1;; esac
	@touch $@

drill: setup ## the real response, synthesized by CDK, against a simulated account
	@$(PY) -m drill $(ARGS)

# The suite imports the product anew for every simulated account (about a hundred times per worker): compiled once
# into $(VENV)/pycache, outside the tree, it is read back instead of compiled again each time. Its workers and the
# `make drill` commands it runs share each synthesized configuration (drill/template.py, keyed by every input).
test: setup ## the whole test suite (what CI runs)
	@PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX="$(abspath $(VENV))/pycache" \
	  DRILL_SYNTH_CACHE="$(abspath $(VENV))/synth-cache" $(PY) -m pytest -q -n 2 --dist loadgroup $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# OUT=DIR synthesizes into DIR instead of cdk.out (each CLI locks its output directory).
synth: setup node_modules/.stamp
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(CDK) synth $(if $(OUT),--output "$(OUT)") $(ARGS)

deploy: setup node_modules/.stamp
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(CDK) deploy --all $(ARGS)

destroy: setup node_modules/.stamp
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(CDK) destroy --all $(ARGS)

bootstrap: setup node_modules/.stamp ## once per account and region: ARGS="aws://ACCOUNT/REGION ..."
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(CDK) bootstrap $(ARGS)

# check, try and release exit 0, 1 or 2 (python -m responder --help). make cannot pass a recipe's
# code on: it exits 2 whenever one fails (GNU make: 0, 2, and 1 only with -q). Its last line,
# `make: *** [Makefile:N: check] Error C`, names the command's own code C; a script that needs
# 1 apart from 2 runs `.venv/bin/python -m responder ...` itself (tests/unit/test_responder_cli.py).
check: setup ## after every deploy: prove permissions, layer, Slack, GuardDuty, CloudTrail, alarms: ARGS="--region HOME"
	@$(PY) -m responder check $(ARGS)

try: setup ## start the deployed workflow on a sample event (dry-run deployments only): ARGS="EVENT.json"
	@$(PY) -m responder try $(ARGS)

release: setup ## undo an incident's recorded actions: ARGS="INCIDENT_ID"
	@$(PY) -m responder release $(ARGS)

bench: setup ## speed of containment: writes docs/benchmarks.md and bench.json
	@$(PY) -m bench $(ARGS)

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache .mypy_cache
