# touchline: `make demo` runs the nightly pipeline on built-in demo data; `make test` runs the tests.
# Both create the virtual environment on first use, installing the pinned dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help setup browser demo demo-push demo-api dev-servers bench test lint format docs clean

help:
	@echo "make demo    generate demo data and run the nightly DAG through Airflow"
	@echo "make demo-push  the same, pushing to local HubSpot/Slack/Customer.io/webhook servers"
	@echo "make demo-api   the same, crm/support/usage read from local Salesforce/Zendesk/S3 servers"
	@echo "make dev-servers  run the local API servers in the foreground (prints their env vars)"
	@echo "make bench   benchmark the small and medium scales (bench/results/)"
	@echo "make test    run the test suite"
	@echo "make browser install Debian's chromium for the run report's browser test (make test does)"
	@echo "make lint    ruff check and format check; sqlfluff over the dbt models and tests"
	@echo "make docs    write docs/input-layout.md again from include/touchline/schema.py"
	@echo "make clean   remove generated data, outputs and the local Airflow home"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/touchline demo

demo-push: $(STAMP)
	$(BIN)/touchline demo --with-dev-servers

demo-api: $(STAMP)
	$(BIN)/touchline demo --sources api

bench: $(STAMP)
	$(BIN)/touchline bench --scale small --scale medium

dev-servers: $(STAMP)
	$(BIN)/touchline dev-servers

# on every core: the nights through Airflow each keep about one core busy
test: $(STAMP) browser
	$(BIN)/python -m pytest -n auto

# Debian's chromium (and a font for its text), which the run report's browser test drives
# (tests/report/test_report_browser.py); without root or apt that test skips, saying why
browser:
	@command -v chromium >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium fonts-dejavu-core; \
	} || echo "make browser: could not install chromium; the run report's browser test will skip"

# sqlfluff's dbt templater compiles every model: on an empty warehouse of its own, as of a
# fixed date (the models' introspective queries fall back when nothing is built)
LINT_HOME := .touchline/lint

lint: $(STAMP)
	$(BIN)/ruff check include dags tests expectations
	$(BIN)/ruff format --check include dags tests expectations
	rm -rf $(LINT_HOME) && mkdir -p $(LINT_HOME)/landing
	TOUCHLINE_LANDING_DIR=$(CURDIR)/$(LINT_HOME)/landing \
	TOUCHLINE_WAREHOUSE=$(CURDIR)/$(LINT_HOME)/warehouse.duckdb \
	TOUCHLINE_RUN_DATE=2026-01-01 \
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests

format: $(STAMP)
	$(BIN)/ruff format include dags tests expectations
	$(BIN)/ruff check --fix include dags tests expectations

docs: $(STAMP)
	$(BIN)/python -m touchline.reference

clean:
	rm -rf .touchline output demo_data dbt_project/target dbt_project/logs
