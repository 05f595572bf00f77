# Switchboard. `make run` serves the embedded default; `make test` runs the suite on MySQL and Redis.
SHELL := /bin/bash
PY ?= python3
PORT ?= 8000
BIN := .venv/bin

# The tests run the production profile against the real services: tests/test.env (each run on a test
# database, a Redis database and a channel prefix of its own, docs/development.md).
TEST_ENV := set -a; . tests/test.env; set +a;

.PHONY: run test test-js test-channels-redis lint bench migrate clean cluster cluster-stop messages

.venv/.runtime-installed: requirements.txt scripts/bootstrap.sh
	PY=$(PY) bash scripts/bootstrap.sh runtime

.venv/.dev-installed: requirements.txt requirements-dev.txt scripts/bootstrap.sh
	PY=$(PY) bash scripts/bootstrap.sh dev

run: .venv/.runtime-installed
	$(BIN)/python manage.py compilemessages --ignore=.venv >/dev/null
	$(BIN)/python manage.py migrate --noinput
	@[ -f var/.demo-seeded ] || ($(BIN)/python manage.py seed_demo && touch var/.demo-seeded)
	@$(BIN)/python manage.py describe_urls --port $(PORT)
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) config.asgi:application

# `manage.py check --deploy` on the production profile as an operator sets it: placeholder URLs (the
# checks read settings and connect to nothing) and a fresh random key; nothing from the caller's shell.
DEPLOY_CHECK_ENV := env -i PATH="$$PATH" HOME="$$HOME" DATABASE_URL=mysql://switchboard@127.0.0.1:3306/switchboard \
	REDIS_URL=redis://127.0.0.1:6379/0 ALLOWED_HOSTS=switchboard.example.com LOG_LEVEL=WARNING \
	SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')"

lint: .venv/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(DEPLOY_CHECK_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING
	@# The integrator API's OpenAPI document (docs/api.md): valid, and no warning from drf-spectacular.
	$(DEPLOY_CHECK_ENV) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

# The switch's end-to-end tests once more on channels-redis's pub/sub layer (docs/realtime.md): the
# sockets in-process and one browser chat through a daphne subprocess.
CHANNELS_REDIS_E2E := tests/imsubsystem/test_widget_socket.py tests/imsubsystem/test_agent_socket.py \
	tests/browser/test_chat.py::test_customer_and_agent_chat_live_through_a_network_drop_and_a_reload

test: .venv/.dev-installed
	bash scripts/services.sh
	$(BIN)/python manage.py compilemessages --ignore=.venv >/dev/null
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-js
	@# Two runs: the in-process tests on two workers (each with its own database and Redis database,
	@# tests/isolation.py; a file's tests stay on one worker), then the tests that start servers, kill
	@# them or drive Chromium, one at a time (docs/development.md).
	$(TEST_ENV) $(BIN)/pytest -n 2 --dist loadfile -m "not slow and not browser" $(PYTEST_ARGS)
	$(TEST_ENV) $(BIN)/pytest -m "slow or browser" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-channels-redis

test-channels-redis: .venv/.dev-installed
	$(TEST_ENV) CHANNEL_LAYER_BACKEND=channels_redis $(BIN)/pytest $(CHANNELS_REDIS_E2E)

# The browser code's unit tests (tests/js/*.test.js): node's own test runner, no packages to download.
test-js:
	node --test tests/js/

# The catalogs (docs/i18n.md): every marked string of the code into locale/*/LC_MESSAGES/*.po, for
# translating; `make test` compiles them and fails on an untranslated or fuzzy zh-Hans entry.
messages: .venv/.dev-installed
	$(BIN)/python manage.py makemessages -l zh_Hans --no-location --no-obsolete --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	$(BIN)/python manage.py makemessages -d djangojs -l zh_Hans --no-location --no-obsolete --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=static/api --ignore=node_modules

bench: .venv/.dev-installed
	bash scripts/services.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	@# One against two daphne processes, both unpinned (docs/performance.md); skipped when BENCH_ARGS chooses.
	$(if $(BENCH_ARGS),,for n in 1 2; do $(BIN)/python -m bench.run --only relay --profile production --layer switchboard --procs $$n --no-pin || exit 1; done)

migrate: .venv/.runtime-installed
	$(BIN)/python manage.py migrate

clean:
	rm -rf .venv var .pytest_cache .ruff_cache

cluster: .venv/.dev-installed
	bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop
