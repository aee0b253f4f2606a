# The two commands a clinic's IT person and a contributor need:
#   make run   - install, migrate the embedded SQLite database, seed the demo clinic, serve :8000
#   make test  - install, lint, type-check, and run the whole suite (SQLite, and PostgreSQL
#                when SCHEDULER_TEST_DATABASE_URL is set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/ical/js/node_modules/.installed-stamp

.PHONY: run test lint typecheck pytest install clean libical

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(NODE_STAMP): tests/ical/js/package.json tests/ical/js/package-lock.json
	cd tests/ical/js && npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

# libical (Evolution's parser) for the iCalendar tests: its headers through pkg-config, from
# the system's packages (Debian: libical-dev; installed here when apt-get can).
libical:
	@pkg-config --exists libical 2>/dev/null || { command -v apt-get >/dev/null && \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libical-dev pkg-config >/dev/null; } || \
		{ echo "install libical's development files (Debian: libical-dev) for the tests"; exit 1; }

install: $(STAMP)

run: $(STAMP)
	$(BIN)/scheduler dev

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations benchmarks
	$(BIN)/ruff format --check src tests migrations benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP) libical
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var tests/ical/js/node_modules
