# Haven: `make run` starts the app with a demo school; `make test` runs the whole suite.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := server
# The demo school's name, shown in the banner (a real school sets HAVEN_SCHOOL_NAME).
export HAVEN_SCHOOL_NAME ?= Larkfield Primary School (demo)

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

run: $(APP_STAMP)
	$(BIN)/flask db upgrade heads
	$(BIN)/flask demo seed --if-empty
	$(BIN)/flask run --host localhost --port 5000

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
