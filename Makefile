# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: run test test-fast lint schema run-check setup demo clean

$(STAMP): requirements/base.txt requirements/dev.txt requirements/test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/test.txt
	touch $(STAMP)

setup: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_schedules
	$(PY) manage.py seed_demo

## make run: set up and start web, worker and beat together (SQLite + filesystem broker unless DATABASE_URL / REDIS_URL are set)
run: setup
	@echo ""
	@echo "  site      http://127.0.0.1:$(PORT)/"
	@echo "  admin     http://127.0.0.1:$(PORT)/admin/"
	@echo "  API docs  http://127.0.0.1:$(PORT)/api/docs/"
	@echo ""
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH PORT=$(PORT) $(VENV)/bin/honcho -f config/Procfile -d . start

## make test: the whole suite on PostgreSQL and Redis (127.0.0.1 unless DATABASE_URL / REDIS_URL say otherwise)
test: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

## make test-fast: the edit-test loop, everything but the long property runs (make test stays the whole suite)
test-fast: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest -m "not long" $(PYTEST_ARGS)

## make lint: ruff, and the import layers (lint-imports: dependencies run one way, no cycles inside an app)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

schema: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

## make run-check: what `make run` does, on a throw-away SQLite file, started and stopped
run-check: $(STAMP)
	PY=$(PY) bash .ci/run-check

clean:
	rm -rf $(VENV) var
