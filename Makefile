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

LOCKS := requirements.lock requirements-dev.lock
# The lock tool itself is pinned: `make lock` twice gives the same files.
UV_VERSION := 0.13.9
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command "make lock"

.PHONY: run test lint typecheck pytest install install-web-js clean lock lock-upgrade check-lock libical readme-screenshots

# Installs exactly what the lock files pin (hashes checked, no unpinned dependency pulled in),
# then the project itself. Re-runs only when pyproject.toml or a lock file changed.
$(STAMP): pyproject.toml $(LOCKS) scripts/check_lock.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python scripts/check_lock.py
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

check-lock:
	$(BIN)/python scripts/check_lock.py

# Deliberate dependency changes: edit pyproject.toml, then `make lock` (keeps every existing
# pin it can) or `make lock-upgrade` (newest allowed versions of everything); commit both files.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(UV_COMPILE) $(UV_ARGS) -o requirements.lock
	$(UV_COMPILE) $(UV_ARGS) --extra dev --constraint requirements.lock -o requirements-dev.lock
	$(BIN)/python scripts/check_lock.py

lock-upgrade:
	$(MAKE) lock UV_ARGS=--upgrade

$(NODE_STAMP): tests/ical/js/package.json tests/ical/js/package-lock.json
	cd tests/ical/js && npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

# axe-core for the browser tests' accessibility checks (pinned by its lock file).
$(WEB_NODE_STAMP): tests/web/js/package.json tests/web/js/package-lock.json
	cd tests/web/js && npm ci --silent --no-audit --no-fund
	touch $(WEB_NODE_STAMP)

install-web-js: $(WEB_NODE_STAMP)

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
	$(BIN)/ruff check src tests migrations benchmarks scripts
	$(BIN)/ruff format --check src tests migrations benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP) $(WEB_NODE_STAMP) libical
	$(BIN)/pytest

test: lint typecheck pytest

# The README's pictures: the browser tests take every desk page at 1280x800, 1024x768, 768x1024
# and 390x844 (SQLite, clock frozen on a weekday with visits); these are copied into docs/.
README_SCREENSHOTS := day-board-1280x800 day-board-768x1024 book-2-slots-1280x800 \
	book-3-confirm-768x1024 booking-page-1280x800 booking-page-390x844 today-390x844
readme-screenshots: $(STAMP) $(WEB_NODE_STAMP)
	env -u SCHEDULER_TEST_DATABASE_URL $(BIN)/pytest -q -p no:randomly \
		tests/web/test_board_browser.py tests/web/test_booking_browser.py tests/web/test_browser.py
	mkdir -p docs/screenshots
	for name in $(README_SCREENSHOTS); do \
		cp test-artifacts/screenshots/$$name.png docs/screenshots/ || exit 1; done

clean:
	rm -rf $(VENV) var tests/ical/js/node_modules tests/web/js/node_modules test-artifacts
