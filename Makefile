# The two commands of the README: `make run` and `make test`. Everything else is theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT   ?= 8000
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)

.PHONY: run test setup db static browser sandbox lint typecheck lock bench clean

run: db sandbox
	$(MANAGE) seed_demo
	$(MANAGE) serve --port $(PORT)

# Two pytest-xdist workers: most tests wait on processes, git, a browser or the network, so
# even on two cores two at once finish in about two thirds of the time of one.
# tests/worker_installs.py makes each worker a separate install (data directory, Redis
# database); TEST_WORKERS=0 runs the tests in one process.
TEST_WORKERS ?= 2

test: setup browser sandbox static
	$(BIN)/python -m pytest -p tests.worker_installs -n $(TEST_WORKERS) $(PYTEST_ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	touch $@

db: setup static
	$(MANAGE) migrate_all

static: setup
	$(MANAGE) collectstatic --noinput --verbosity 0

# $(call apt_install,COMMAND,WHAT FOR[,PACKAGE]): install Debian's PACKAGE (named like its
# command unless given) when COMMAND is missing.
apt_install = command -v $(1) >/dev/null 2>&1 || { \
	  echo "Installing Debian's $(or $(3),$(1)) for $(2)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(or $(3),$(1)) >/dev/null; }

# Browser tests drive Debian's Chromium; install it when it is missing.
browser:
	@$(call apt_install,chromium,the browser tests)

# Shell and agent steps run confined by bubblewrap (STEP_SANDBOX); install it when missing.
# Without apt `make run` still works, unconfined; the sandbox tests then fail, as they should.
sandbox:
	@$(call apt_install,bwrap,the step sandbox,bubblewrap) \
	  || echo "bubblewrap is not installed: steps run without the sandbox (STEP_SANDBOX=auto)"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy accounts workflows smartspec

# Re-pin every dependency after editing pyproject.toml.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --generate-hashes --python-version 3.11 -q -c requirements.lock -o bench/requirements.lock

# Benchmarks need a few more packages (LangGraph, websockets): bench/requirements.lock,
# and wrk, the load generator of bench_api's flat-out scenarios.
bench: setup
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r bench/requirements.lock
	@$(call apt_install,wrk,bench/bench_api.py)

clean:
	rm -rf $(VENV) staticfiles
