# Green Points: `make run` serves the demo village, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# HTTPS=1: serve https with a certificate made locally (deploy/local-cert.sh).
HTTPS ?=

.PHONY: run serve test test-fast lint translations messages clean browser-deps bench bench-county bench-deps tls-deps

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
ifeq ($(HTTPS),1)
	@sh deploy/local-cert.sh instance/tls
	@echo ""
	@echo "Green Points is at https://$(HOST):$(PORT)/  (phones: trust instance/tls/ca.crt, README)"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT) --cert instance/tls/server.crt --key instance/tls/server.key
else
	@echo ""
	@echo "Green Points is at http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	@echo "Serve phones on the village network with: make serve (gunicorn over https)"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)
endif

# The village's own server for phones: gunicorn over https with the local certificate,
# HSTS and a Secure cookie (deploy/serve.sh). `make run` stays the demo. No demo data.
SERVE_HOST ?= 0.0.0.0
serve: $(VENV)/.installed translations
	$(FLASK) db upgrade
	@echo ""
	@echo "Green Points serves https on port $(PORT) of this machine's addresses (phones: trust"
	@echo "instance/tls/ca.crt, README). Set BASE_URL to the address phones use before printing cards."
	@echo ""
	GUNICORN=$(BIN)/gunicorn sh deploy/serve.sh $(SERVE_HOST) $(PORT)

# Two workers (pytest-xdist), one database each; tests that share one HA cluster or open
# many connections carry an xdist_group mark and run one after another on one worker.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

test: lint translations browser-deps tls-deps
	$(PYTEST) --durations=15

# The edit loop: SQLite only, no browser, HA or slow tests, no lint. `make test` (and CI) run them all.
test-fast: $(VENV)/.installed-test translations tls-deps
	GREENPOINTS_TEST_DATABASES=sqlite $(PYTEST) -m "not browser and not ha and not slow"

# tests/test_deploy_tls.py checks the README's nginx site with `nginx -t`.
tls-deps:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's nginx-light to check the production TLS config"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; \
		else \
			echo "The TLS config test needs nginx: sudo apt-get install nginx-light" >&2; exit 1; \
		fi; \
	fi

# The browser tests drive Debian's Chromium with a fake camera fed by ffmpeg; certutil
# (libnss3-tools) makes Chromium trust the https tests' own certificate authority.
browser-deps:
	@if ! command -v ffmpeg >/dev/null || ! command -v certutil >/dev/null || ! { [ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ]; } || [ ! -d /usr/share/fonts/truetype/wqy ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's chromium, ffmpeg and a Chinese font for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ffmpeg fonts-wqy-microhei libnss3-tools >/dev/null; \
		else \
			echo "The browser tests need Chromium, ffmpeg, a Chinese font and certutil: sudo apt-get install chromium ffmpeg fonts-wqy-microhei libnss3-tools" >&2; exit 1; \
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

# Issue 32's county: 300 villages beside one (BENCH_COUNTY_* in bench/county.py scale it down).
bench-county: $(VENV)/.installed-bench translations
	$(BIN)/python -m bench.county

# Update the message catalogues after changing UI text.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# High availability (README, Production): a primary and a synchronous standby on this
# machine, kept by pg_auto_failover, under .ha/. `make ha-up` writes .ha/env for the app,
# archives the WAL with pgBackRest and takes a full backup (README, Operations).
.PHONY: ha-deps ha-up ha-status ha-kill-primary ha-kill-standby ha-rejoin ha-down
.PHONY: pitr-backup pitr-info pitr-verify pitr-restore pitr-rebuild pitr-drill

ha-deps:
	@if ! command -v pg_autoctl >/dev/null || ! ls /usr/share/postgresql/*/extension/pgautofailover.control >/dev/null 2>&1 || ! command -v pgbackrest >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's pg_auto_failover and pgbackrest for the HA cluster"; \
			version=$$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1); \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-$${version:-15}-auto-failover pgbackrest >/dev/null; \
		else \
			echo "The HA cluster needs pg_auto_failover and pgbackrest: sudo apt-get install postgresql-15-auto-failover pgbackrest" >&2; exit 1; \
		fi; \
	fi

ha-up: ha-deps
	$(PYTHON) ha/pitr.py up

ha-status:
	@$(PYTHON) ha/cluster.py status

ha-kill-primary:
	$(PYTHON) ha/cluster.py kill-primary

ha-kill-standby:
	$(PYTHON) ha/cluster.py kill-standby

ha-rejoin:
	$(PYTHON) ha/cluster.py rejoin

ha-down:
	$(PYTHON) ha/cluster.py down

# Point-in-time recovery of the ha-up cluster (README, Operations). BACKUP=full|diff|incr.
BACKUP ?= full
pitr-backup:
	$(PYTHON) ha/pitr.py backup $(BACKUP)

pitr-info:
	@$(PYTHON) ha/pitr.py info

pitr-verify:
	$(PYTHON) ha/pitr.py verify

# make pitr-restore TARGET='2026-12-07 20:50:21+00' (both nodes lost: `ha/pitr.py destroy` first)
pitr-restore:
	@test -n "$(TARGET)" || { echo "make pitr-restore TARGET='YYYY-MM-DD HH:MM:SS+00'" >&2; exit 2; }
	$(PYTHON) ha/pitr.py restore "$(TARGET)"

# After a restore: node1 primary again under the monitor, node2 its new standby, a full backup.
pitr-rebuild:
	$(PYTHON) ha/pitr.py rebuild

# Rehearse losing both database machines on the ha-up cluster; `make ha-down` after it.
pitr-drill: ha-deps
	@test -x $(BIN)/python || { echo "pitr-drill runs the app: make the virtualenv first (make test-fast)" >&2; exit 1; }
	$(BIN)/python ha/pitr_drill.py
