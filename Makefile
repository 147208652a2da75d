# The two commands: `make run` (the whole stack in the foreground) and `make test` (the suite).
# Both create .venv and install what they need, start Postgres/Redis if none are given, and are
# safe to run again. See README.md.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run dev test lint typecheck pytest install demo bench clean-data help browser

help:
	@echo "make run    - Postgres + Redis (embedded unless DATABASE_URL/REDIS_URL), migrate, demo, web + worker + beat"
	@echo "make dev    - the same, with Django's autoreloading runserver instead of gunicorn"
	@echo "make test   - ruff, mypy, migrations check and the pytest suite on real Postgres and Redis"
	@echo "make lint | typecheck | pytest | demo | clean-data"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (Django 5.2 LTS); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# gunicorn (gthread, WEB_CONCURRENCY x WEB_THREADS), as in production; `make dev` reloads on change.
run: $(STAMP)
	$(BIN)/python -m marketplace.devservices run

dev: $(STAMP)
	$(BIN)/python -m marketplace.devservices dev

demo: $(STAMP)
	$(BIN)/python -m marketplace.devservices exec -- $(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m marketplace.devservices exec -- $(BIN)/python manage.py load_demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian's packages the suite drives: Chromium for the browser tests (Playwright drives it; no
# browser download) and a CJK font so pages in Chinese render as text, not boxes, in the
# screenshots; HAProxy for the multi-host test (tests/multihost) and PgBouncer for the
# transaction-pooling test (tests/marketplace/test_pgbouncer.py).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/opentype/noto ] || [ ! -x /usr/sbin/haproxy ] || [ ! -x /usr/sbin/pgbouncer ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk haproxy pgbouncer; \
		else echo "chromium or fonts-noto-cjk is missing and this is not root: browser tests may be skipped"; fi; \
	fi

# The suite uses the machine's Postgres/Redis when they answer on their default ports, else the
# embedded ones. Two pytest-xdist workers (one per core); race and fault tests are included.
pytest: $(STAMP) browser
	$(BIN)/python -m marketplace.devservices exec --prefer-local -- \
		$(BIN)/python -m pytest -n 2 --create-db $(PYTEST_ARGS)

test: lint typecheck $(STAMP)
	$(BIN)/python -m marketplace.devservices exec --prefer-local -- \
		$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(MAKE) pytest

# Benchmarks (bench/README.md): its own Postgres/Redis/gunicorn/Celery on loopback, about 25 minutes.
# `make bench S=S1` runs one scenario; results in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench $(S)

# The Chinese interface (locale/zh_Hans): collect every marked string into django.po (new ones
# with an empty msgstr, to be translated by a person), then compile django.mo, which is committed
# (a machine without GNU gettext still runs). tests/marketplace/test_i18n_catalog.py fails while a
# msgstr is empty or fuzzy, or the .mo is stale.
MESSAGES_IGNORE := --ignore='.venv/*' --ignore='bench/*' --ignore='tests/*' --ignore='node_modules/*' \
	--ignore='.data/*' --ignore='test-output/*'
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l zh_Hans --add-location=file --no-obsolete $(MESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages -l zh_Hans $(MESSAGES_IGNORE)

clean-data:
	rm -rf .data
