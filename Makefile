# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/midnite_test
WEB_CONCURRENCY ?= 2

.PHONY: run test lint install bench openapi clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the requirements change.
$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Set up and serve the API on embedded defaults (SQLite under var/), in the foreground.
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py create_test_users
	exec $(BIN)/gunicorn midnite_test.wsgi --bind 127.0.0.1:$(PORT) \
		--workers $(WEB_CONCURRENCY) --access-logfile - --graceful-timeout 10

## Lint, then every test on PostgreSQL, then the API tests once more on SQLite.
test: install lint
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest
	mkdir -p var
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/pytest events/tests/api

## black, flake8, the import contracts (.importlinter) and mypy on the rule core.
lint: install
	$(BIN)/black --check --quiet .
	$(BIN)/flake8
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

## Regenerate docs/openapi.yaml from the code (a test fails when it is stale).
openapi: install
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml

## Throughput benchmark against PostgreSQL under gunicorn; see docs/BENCHMARKS.md.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/event_throughput.py

clean:
	rm -rf $(VENV) var
