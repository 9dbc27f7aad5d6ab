# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/midnite_test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run run-check test lint check-deploy install chromium bench openapi screenshots clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the requirements change.
$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Set up and serve the API and one worker on embedded defaults (SQLite and chDB under var/,
## no broker), in the foreground.
run: export LOG_FORMAT ?= console
# Requests without an API key are served, on every tenant; `ALLOW_ANONYMOUS=false make run` not.
run: export ALLOW_ANONYMOUS ?= true
# Notifications with no provider configured are printed (emails) or logged (SMS, alerts).
run: export NOTIFICATION_CONSOLE_DELIVERY ?= true
run: run-check install
	mkdir -p $${VAR_DIR:-var}
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py create_test_users
	$(BIN)/python manage.py clickhouse_migrate
	BIN=$(BIN) exec $(BIN)/python bin/run-embedded

## Refuse a PORT, or a VAR_DIR another `make run` uses, at once, in one line, before the set-up
## and the migrations.
run-check:
	@$(PYTHON) bin/run-embedded --check

## Debian's chromium for the browser test of the audit page (Playwright never downloads one).
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

## Lint, the deployment checks, then every test on PostgreSQL, then the API tests on SQLite.
test: install lint check-deploy chromium
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest
	mkdir -p var
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest users/tests/api events/tests/api rule_sets/tests/api alerts/tests/api metrics/tests/api midnite_test/tests/api console/tests/api

## black, flake8, the import contracts (.importlinter) and mypy on the rule core.
lint: install
	$(BIN)/black --check --quiet .
	$(BIN)/flake8
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

## `manage.py check --deploy` in a production-like environment: DEBUG off, a random SECRET_KEY,
## a broker, a shared cache, an SMTP server and webhooks (none of them is contacted).
check-deploy: export DEBUG = false
check-deploy: export SECRET_KEY = $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
check-deploy: export ALLOWED_HOSTS = api.example.com
check-deploy: export SECURE_PROXY_SSL_HEADER = HTTP_X_FORWARDED_PROTO,https
check-deploy: export DATABASE_URL = $(TEST_DATABASE_URL)
check-deploy: export CELERY_BROKER_URL = $(TEST_BROKER_URL)
check-deploy: export CACHE_URL = $(TEST_BROKER_URL)
check-deploy: export CLICKHOUSE_URL = http://clickhouse.example.com:8123/default
check-deploy: export EMAIL_HOST = smtp.example.com
check-deploy: export SMS_WEBHOOK_URL = https://sms.example.com/send
check-deploy: export INTERNAL_WEBHOOK_URL = https://alerts.example.com/hook
check-deploy: install
	$(BIN)/python manage.py check --deploy

## The console's pages as pictures (docs/console-*.png): a throwaway service under
## var/screenshots/ told a story, photographed in Debian's chromium.
screenshots: install chromium
	$(BIN)/python -m console.screenshots --out docs

## Regenerate docs/openapi.yaml from the code (a test fails when it is stale).
openapi: install
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml

## POST /event's throughput on PostgreSQL against a bare WSGI floor, under granian; see
## docs/BENCHMARKS.md.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/event_throughput.py

clean:
	rm -rf $(VENV) var
