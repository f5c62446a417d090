# Shodaku — two commands: `make run` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TRANSLATIONS := $(patsubst %.po,%.mo,$(wildcard webapp/translations/*/LC_MESSAGES/messages.po))
ASSETS := webapp/static/vendor/.built
export SHODAKU_DEV_DIR := $(CURDIR)/instance

.PHONY: setup run test test-fast bench chromium translations extract-messages clean serve-prod

setup: $(INSTALLED) $(TRANSLATIONS) $(ASSETS)

$(INSTALLED): pyproject.toml
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
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	cd frontend && npm run --silent build
	touch $@

# Debian's Chromium for the browser journeys (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian chromium"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Start the app on SQLite with demo data at http://127.0.0.1:5000, plus the worker and a local
# mail catcher on 127.0.0.1:8025 that prints every e-mail the app sends.
run: setup
	mkdir -p instance
	$(BIN)/shodaku db upgrade heads
	$(BIN)/shodaku demo
	@echo "Open http://127.0.0.1:5000 and log in with one of the accounts above."
	@trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/python -m aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Debugging stdout & \
	  SHODAKU_SMTP_PORT=8025 $(BIN)/shodaku worker & \
	  SHODAKU_SMTP_PORT=8025 $(BIN)/shodaku run --host 127.0.0.1 --port 5000 --no-reload

# The whole suite, on SQLite and on PostgreSQL (a throwaway database per run).
test: setup chromium
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
	  trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/shodaku worker & \
	  $(BIN)/gunicorn -c deploy/gunicorn.conf.py webapp.wsgi:app

bench: setup
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules webapp/static/vendor .pytest_cache
