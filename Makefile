# support-analytics — the two commands are `make demo` and `make test`; everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SA := $(BIN)/sa
STAMP := $(VENV)/.installed

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Installed with their bytecode (uv leaves it out by default): where PYTHONDONTWRITEBYTECODE is set, as on these
# machines, no process would cache it, and every Airflow task process compiled Airflow, Cosmos and dbt from source
# again (~3 CPU-s of its start; the transform DAG's parse 0.59 -> 0.33 s). The project's own modules likewise: its
# editable install is a path entry, so compileall does them (quiet: it prints only a file that does not compile).
$(STAMP): requirements/dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python \
		-r requirements/dev.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q include dags
	$(BIN)/uv pip check --python $(BIN)/python
	touch $(STAMP)

# Cosmos renders the transform DAG from dbt's manifest (LoadMode.DBT_MANIFEST): build it whenever the project changes.
dbt/target/manifest.json: $(STAMP) $(shell find dbt/models dbt/macros dbt/tests -type f 2>/dev/null) dbt/dbt_project.yml
	$(SA) dbt-manifest

# GX data docs load their CSS/JS from CDNs: fetch those files once (npm registry, sha512-pinned) for offline pages.
$(VENV)/share/sa-gx-assets/.complete: $(STAMP) include/quality/data_docs.py
	$(SA) gx-assets && touch $@

install: $(STAMP) dbt/target/manifest.json $(VENV)/share/sa-gx-assets/.complete ## create .venv from requirements/dev.lock, build the dbt manifest, fetch the GX docs assets (idempotent)

# runtime.lock is what the image installs; dev.lock (make install) adds the dev and test tools, resolved against
# runtime.lock so that both pin every runtime package to the same version (tests/unit/test_deployment_files.py).
lock: ## re-resolve requirements/runtime.in into runtime.lock, then requirements/dev.in into dev.lock
	$(BIN)/uv pip compile --python-version 3.11 requirements/runtime.in -o requirements/runtime.lock
	$(BIN)/uv pip compile --python-version 3.11 requirements/dev.in -c requirements/runtime.lock -o requirements/dev.lock

warehouse-start: install ## start the embedded PostgreSQL (no-op when WAREHOUSE_URL is set) and bootstrap it
	$(SA) warehouse bootstrap
warehouse-stop: install ## stop the embedded PostgreSQL
	$(SA) warehouse stop
warehouse-status: install ## is the embedded PostgreSQL running?
	$(SA) warehouse status

airflow-start: warehouse-start ## start api-server, scheduler, dag-processor, triggerer (refuses a second copy)
	$(SA) airflow start
airflow-stop: install ## stop every local Airflow component
	$(SA) airflow stop
airflow-status: install ## which Airflow components run
	$(SA) airflow status

demo: install ## the main job on the embedded default (idempotent)
	$(BIN)/python -m include.demo

test: lint ## lint + the whole test suite (what CI runs); pytest exits 5, a failure, when it collects no test
	$(BIN)/pytest

browser: ## Debian's Chromium at /usr/bin/chromium for the UI tests (tests/e2e/test_ui.py; needs root, no download by Playwright)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else echo "chromium is missing and this is not root: run 'sudo apt-get update && sudo apt-get install -y chromium'" >&2; fi; }

lint: install ## ruff + sqlfluff on the dbt project (.sqlfluff; no warehouse needed) + hadolint on the Dockerfile; pre-commit runs the same
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint dbt
	$(BIN)/hadolint Dockerfile

stop: airflow-stop warehouse-stop ## stop everything local

.PHONY: help install lock warehouse-start warehouse-stop warehouse-status airflow-start airflow-stop airflow-status demo test browser lint stop
