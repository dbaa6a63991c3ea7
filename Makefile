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

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first: a plain torch requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Real servers the integration tests start on 127.0.0.1 (Debian packages).
system-deps:
	@missing=""; \
	for p in prometheus:prometheus promtool:prometheus prometheus-alertmanager:prometheus-alertmanager \
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

test: install system-deps
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=$${COV_MIN:-85} $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy alertsieve serve_app train_app thresholds dashboards

bench: install
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(OUT) .pytest_cache .coverage
