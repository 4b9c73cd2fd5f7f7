# Haven: `make run` starts the app with a demo school; `make test` runs the whole suite.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := server
# The demo school's name, shown in the banner (a real school sets HAVEN_SCHOOL_NAME).
export HAVEN_SCHOOL_NAME ?= Larkfield Primary School (demo)
# Where `make run` listens: `make run PORT=8080`, `make run HOST=0.0.0.0` (every interface).
HOST ?= localhost
PORT ?= 5000
# The address staff type: passkeys and links in mail are bound to it. Listening on every
# interface, this machine is still reached as localhost; from another device, set
# HAVEN_BASE_URL, WEBAUTHN_ORIGIN, WEBAUTHN_RP_ID and HAVEN_TRUSTED_HOSTS yourself.
ORIGIN_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),localhost,$(HOST))

APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install lint worker bench

$(APP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(APP_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(APP_STAMP)

# As Procfile's `release` then `web` (its very command line, so they cannot drift apart), with
# the fictional demo school seeded into an empty database first.
run: $(APP_STAMP)
	$(BIN)/flask db upgrade heads
	$(BIN)/flask demo seed --if-empty
	@echo "Haven: http://$(ORIGIN_HOST):$(PORT)/"
	HAVEN_BASE_URL="$${HAVEN_BASE_URL:-http://$(ORIGIN_HOST):$(PORT)}" \
	WEBAUTHN_ORIGIN="$${WEBAUTHN_ORIGIN:-http://$(ORIGIN_HOST):$(PORT)}" \
	WEBAUTHN_RP_ID="$${WEBAUTHN_RP_ID:-$(ORIGIN_HOST)}" \
	HOST="$(HOST)" PORT="$(PORT)" PATH="$(CURDIR)/$(BIN):$$PATH" \
	exec sh -c "exec $$(sed -n 's/^web: //p' Procfile)"

worker: $(APP_STAMP)
	$(BIN)/rq worker --with-scheduler --worker-class server.jobs.HavenWorker --url "$${REDIS_URL:?set REDIS_URL}" haven

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

# Haven under gunicorn on PostgreSQL beside a bare Flask floor, driven by wrk (bench/http.py).
bench: $(TEST_STAMP)
	$(BIN)/python -m bench.http
