# Green Points: `make run` serves the demo village, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint translations messages clean browser-deps bench bench-deps

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Green Points needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile --use-fuzzy -d app/translations > /dev/null

run: $(VENV)/.installed translations
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	@echo ""
	@echo "Green Points is at http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	@echo "Serve phones on the village network with: make run HOST=0.0.0.0"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)

test: lint translations browser-deps
	$(BIN)/pytest

# The browser tests drive Debian's Chromium with a fake camera fed by ffmpeg.
browser-deps:
	@if ! command -v ffmpeg >/dev/null || ! { [ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ]; }; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's chromium and ffmpeg for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ffmpeg >/dev/null; \
		else \
			echo "The browser tests need Chromium and ffmpeg: sudo apt-get install chromium ffmpeg" >&2; exit 1; \
		fi; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests migrations/env.py
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy app

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[bench]"
	@touch $@

# The benchmark's load generator is Debian's wrk; pgbench comes with PostgreSQL's client.
bench-deps:
	@if ! command -v wrk >/dev/null || ! command -v pgbench >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's wrk and postgresql-client for the benchmark"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk postgresql-client >/dev/null; \
		else \
			echo "The benchmark needs wrk and pgbench: sudo apt-get install wrk postgresql-client" >&2; exit 1; \
		fi; \
	fi

# Issue 8's benchmark (about 8 minutes; BENCH_* variables in bench/settings.py shorten it).
bench: $(VENV)/.installed-bench translations bench-deps
	$(BIN)/python -m bench

# Update the message catalogues after changing UI text.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
