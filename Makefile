# The two commands a clinic's IT person and a contributor need:
#   make run   - install, migrate the embedded SQLite database, seed the demo clinic, serve :8000
#   make test  - install, lint, type-check, and run the whole suite (SQLite, and PostgreSQL
#                when SCHEDULER_TEST_DATABASE_URL is set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/ical/js/node_modules/.installed-stamp
WEB_NODE_STAMP := tests/web/js/node_modules/.installed-stamp

.PHONY: run test lint typecheck pytest install install-web-js clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(NODE_STAMP): tests/ical/js/package.json tests/ical/js/package-lock.json
	cd tests/ical/js && npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

# axe-core for the browser tests' accessibility checks (pinned by its lock file).
$(WEB_NODE_STAMP): tests/web/js/package.json tests/web/js/package-lock.json
	cd tests/web/js && npm ci --silent --no-audit --no-fund
	touch $(WEB_NODE_STAMP)

install-web-js: $(WEB_NODE_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/scheduler dev

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations benchmarks
	$(BIN)/ruff format --check src tests migrations benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP) $(WEB_NODE_STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var tests/ical/js/node_modules tests/web/js/node_modules test-artifacts
