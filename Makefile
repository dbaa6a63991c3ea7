# alertsieve: `make run` (the whole loop on embedded defaults) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
OUT ?= out
SEED ?= 7
export ALERTSIEVE_HOME ?= $(HOME)/.alertsieve
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: install system-deps run test lint serve bench clean

# requirements.lock: the runtime (what the image installs); requirements-dev.lock: the test and lint tools
$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first: a plain torch requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Real servers the integration tests start on 127.0.0.1 (Debian packages).
system-deps:
	@missing=""; \
	for p in prometheus:prometheus promtool:prometheus prometheus-alertmanager:prometheus-alertmanager \
	         amtool:prometheus-alertmanager kubectl:kubectl \
	         chromium:chromium chromedriver:chromium-driver; do \
	  command -v $${p%%:*} >/dev/null || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

run: install
	mkdir -p $(OUT)
	$(BIN)/alertsieve simulate --out $(OUT)/history.jsonl --days 56 --seed $(SEED) \
	  --holdout-days 14 --holdout-out $(OUT)/later.jsonl
	$(BIN)/alertsieve train --history $(OUT)/history.jsonl
	$(BIN)/alertsieve score --alerts $(OUT)/later.jsonl --out $(OUT)/decisions.jsonl
	$(BIN)/alertsieve evaluate --alerts $(OUT)/later.jsonl --decisions $(OUT)/decisions.jsonl
	$(MAKE) --no-print-directory serve

# The demo's stand-in pager: serve_config.yaml ships with no receiver (alertsieve then answers 503 and is not
# ready: it never drops a page silently), so `make serve` adds a file receiver that appends each page, as JSON
# lines, to $(ALERTSIEVE_HOME)/pages.jsonl. SERVE_CONFIG=serve_config.yaml serves the config as it is.
DEMO_CONFIG := $(ALERTSIEVE_HOME)/serve_config.demo.yaml
SERVE_CONFIG ?= $(DEMO_CONFIG)

$(DEMO_CONFIG): serve_config.yaml
	@mkdir -p $(ALERTSIEVE_HOME)
	$(PY) -c 'import sys; from train_app.deploy import set_app_args; \
	  sys.stdout.write(set_app_args(open("serve_config.yaml").read(), "alertsieve", \
	  {"receivers": [{"kind": "file", "name": "demo-pages"}]}))' > $@.tmp && mv $@.tmp $@

# Serve the champion on 127.0.0.1:8000, or ALERTSIEVE_HOST:ALERTSIEVE_PORT (foreground; Ctrl-C stops it). Writes need the bearer token.
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: single-node Ray on 127.0.0.1, so GCS, raylet, agents, workers and the
# metrics endpoint listen on loopback only (Ray 2.60 otherwise binds them to every interface).
serve: install $(if $(filter $(DEMO_CONFIG),$(SERVE_CONFIG)),$(DEMO_CONFIG))
	@token=$${ALERTSIEVE_API_TOKEN:-$$(cat $(ALERTSIEVE_HOME)/api_token 2>/dev/null || \
	  (mkdir -p $(ALERTSIEVE_HOME) && $(PY) -c 'import secrets; print(secrets.token_hex(16))' | tee $(ALERTSIEVE_HOME)/api_token))}; \
	echo "serving on http://127.0.0.1:8000   API docs: http://127.0.0.1:8000/docs   UI: http://127.0.0.1:8000/ui"; \
	echo "pages go to the receivers of $(SERVE_CONFIG)$(if $(filter $(DEMO_CONFIG),$(SERVE_CONFIG)), (the demo's: $(ALERTSIEVE_HOME)/pages.jsonl))"; \
	echo "Ray dashboard: http://127.0.0.1:8265 (token in ~/.ray/auth_token)   write token: $$token (in $(ALERTSIEVE_HOME)/api_token)"; \
	RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ALERTSIEVE_API_TOKEN=$$token $(PY) -m train_app serve --config $(SERVE_CONFIG)

test: install system-deps
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=$${COV_MIN:-92} $(PYTEST_ARGS)

# mypy: strict over the packages, tests/ and benchmarks/ (what it checks and how: [tool.mypy] in pyproject.toml)
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(OUT) .pytest_cache .coverage
