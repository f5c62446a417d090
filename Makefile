# Shodaku — two commands: `make run` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TRANSLATIONS := $(patsubst %.po,%.mo,$(wildcard webapp/translations/*/LC_MESSAGES/messages.po))
ASSETS := webapp/static/vendor/.built
export SHODAKU_DEV_DIR := $(CURDIR)/instance

.PHONY: setup run test test-fast bench chromium postgres-check translations extract-messages clean serve-prod

setup: $(INSTALLED) $(TRANSLATIONS) $(ASSETS)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "Python 3.11 or newer is needed as '$(PYTHON)' (set PYTHON=python3.12 to use another); Debian: apt-get install python3 python3-venv"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

webapp/translations/%/LC_MESSAGES/messages.mo: webapp/translations/%/LC_MESSAGES/messages.po $(INSTALLED)
	$(BIN)/pybabel compile --statistics -d webapp/translations -l $* 2>&1 | tail -1

translations: $(TRANSLATIONS)

# Regenerate the catalog template and merge it into ja/en (run after changing user-facing text).
extract-messages: $(INSTALLED)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o webapp/translations/messages.pot --no-location --sort-output --project Shodaku .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching --ignore-obsolete

# Front-end assets: bpmn-js and our bundles, from the npm registry with the committed lock file (no CDN).
$(ASSETS): frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*.js) $(wildcard frontend/src/*.css)
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "Node.js and npm are needed to build the diagram editor's assets (once); Debian: apt-get install nodejs npm"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	cd frontend && npm run --silent build
	touch $@

# Debian's Chromium for the browser journeys (never a downloaded browser); apt-get as root, else
# through sudo. Without either the browser tests skip, saying why (under CI=true they fail).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; \
	  else echo "Debian's chromium is not installed and installing it needs root: run 'apt-get install chromium' as root." \
	    "Until then the browser tests are skipped."; exit 0; fi; \
	  echo "installing Debian chromium$${sudo:+ with sudo}"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
	  { echo "could not install chromium ($${sudo:-as root}): run 'apt-get install chromium' as root." \
	    "Until then the browser tests are skipped."; [ "$$CI" != true ]; }; }

# The tests want PostgreSQL at SHODAKU_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres);
# without it they run on SQLite only and say so (under CI=true that is a failure).
postgres-check: setup
	@$(BIN)/python -c 'import os; from webapp.testing import pg_reachable; \
	  url = os.environ.get("SHODAKU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"); \
	  problem = pg_reachable(url); \
	  problem and print(f"PostgreSQL is not reachable at {url} ({problem}): its tests will be skipped (fail under CI=true). Start one that trusts " \
	                    "the user postgres on 127.0.0.1 (Debian: apt-get install postgresql), or set SHODAKU_TEST_PG.")'

# Start the app on SQLite with demo data at http://127.0.0.1:5000, plus the worker and a local
# mail catcher on 127.0.0.1:8025 that prints every e-mail the app sends.
run: setup
	mkdir -p instance
	$(BIN)/shodaku db upgrade heads
	$(BIN)/shodaku demo
	@echo "Open http://127.0.0.1:5000 and log in with one of the accounts above."
	@trap 'trap - EXIT INT TERM; kill 0' EXIT INT TERM; \
	  $(BIN)/python -m aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Debugging stdout & \
	  SHODAKU_SMTP_PORT=8025 $(BIN)/shodaku worker & \
	  SHODAKU_SMTP_PORT=8025 $(BIN)/shodaku run --host 127.0.0.1 --port 5000 --no-reload

# The whole suite, on SQLite and on PostgreSQL (a throwaway database per run).
test: setup chromium postgres-check
	$(BIN)/pytest -n 2 --dist loadgroup -q

# Quick feedback while developing: SQLite only, no browser.
test-fast: setup
	SHODAKU_TEST_BACKENDS=sqlite $(BIN)/pytest -n 2 -q -m "not e2e"

# Production-style: gunicorn (several workers) + the worker, against DATABASE_URL (PostgreSQL).
# Configuration comes only from the environment (README: Configuration). Ctrl-C stops both.
PROD_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/shodaku
serve-prod: setup
	@test -n "$$SHODAKU_SECRET_KEY" || { echo "set SHODAKU_SECRET_KEY (e.g. export SHODAKU_SECRET_KEY=$$(python3 -c 'import secrets;print(secrets.token_hex(32))'))"; exit 2; }
	export DATABASE_URL="$${DATABASE_URL:-$(PROD_DATABASE_URL)}"; \
	  $(BIN)/python -m webapp.ops create-database && \
	  $(BIN)/shodaku db upgrade heads && $(BIN)/shodaku deploy --shipped && \
	  trap 'trap - EXIT INT TERM; kill 0' EXIT INT TERM; \
	  $(BIN)/shodaku worker & \
	  $(BIN)/gunicorn -c deploy/gunicorn.conf.py webapp.wsgi:app

bench: setup
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules webapp/static/vendor .pytest_cache
