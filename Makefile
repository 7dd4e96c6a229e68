# Two commands do everything: `make run` and `make test` (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KAFKA_PORT ?= 9092
export KAFKA_PORT

.PHONY: help install run cluster demo test chromium lint test-unit test-integration broker broker-stop topics schemas bench chaos soak clean

help:
	@echo "make run          set up, start the local broker (unless KAFKA_BOOTSTRAP_SERVERS), run one worker"
	@echo "make cluster N=3  the same with N workers in one group (ports 6066..)"
	@echo "make demo         play a short story (STOP, sends, ALTO, HELP, review, START, 21610) against the running worker"
	@echo "make test         set up (Chromium too, for the browser test), then the whole suite against a real broker"
	@echo "make broker       start the local Kafka broker on 127.0.0.1:\$$KAFKA_PORT (default 9092)"
	@echo "make broker-stop  stop it"
	@echo "make topics       create the topics and check partition counts"
	@echo "make schemas      re-export the JSON Schemas from schemas/"
	@echo "make bench        benchmark vs. aiokafka / passthrough / quixstreams baselines (see bench/README.md)"
	@echo "make chaos        SIGKILLed workers, takeovers, a restarted broker, full size, both guarantees (chaos/README.md)"
	@echo "make soak         one worker, 1,500 records/s for 30 min: its memory must level off (soak/README.md)"

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

install: $(VENV)/.installed
	@$(PY) scripts/vendor_assets.py  # the dashboard's chart library, pinned (docs/http/dashboard.md)

broker:
	@bash scripts/kafka.sh start

broker-stop:
	@bash scripts/kafka.sh stop

topics: install broker
	$(PY) -m app create-topics

run: install broker
	$(PY) scripts/run_local.py  # the worker, with a viewer token for the dashboard (.run/viewer-token)

# A scripted story against the worker of `make run` (in another terminal): each record produced,
# its outcome awaited and shown with the number's dashboard link (app/runtime/cli/demo.py)
demo: install
	$(PY) -m app demo

# N workers in one group on the local broker (ports 6066..), each with its own data dir and
# static member id; one standby replica per table partition (scripts/run_cluster.py)
N ?= 3
cluster: install broker
	$(PY) scripts/run_cluster.py -n $(N)

# The integration fixtures start the local broker themselves when none is given
# (and stop it again), or use testcontainers when a Docker daemon answers.
# chromium first: a machine that cannot get it stops at once, before the long set-up.
test: chromium install lint
	$(PY) -m pytest

# The dashboard's browser test (tests/browser) drives a system Chromium: Playwright's own
# browser download needs a CDN. Debian's package is installed when it is missing and this
# may (as root, or with sudo that asks no password); otherwise make stops at once with the
# one command to run. CHROMIUM=/path/to/chromium uses another one.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$(CHROMIUM)" != /usr/bin/chromium ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "make test: no Chromium at $(CHROMIUM) for the dashboard's browser test:" \
			"install Chromium and run make test CHROMIUM=/path/to/chromium" >&2; exit 2; fi; \
	if [ "$$(id -u)" = 0 ]; then as_root=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo"; \
	else \
		if command -v sudo >/dev/null 2>&1; then cmd="run: sudo apt-get install -y chromium"; \
		else cmd="run as root: apt-get install -y chromium"; fi; \
		echo "make test: the dashboard's browser test needs Chromium at $(CHROMIUM); $$cmd" >&2; exit 2; fi; \
	echo "make test: installing Debian's chromium for the dashboard's browser test (apt-get)"; \
	$$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
	test -x "$(CHROMIUM)" && echo "make test: $$("$(CHROMIUM)" --version 2>/dev/null || echo chromium) installed"

# ruff: style, and no private attribute access outside app/runtime (pyproject.toml)
lint: install
	$(PY) -m ruff check app schemas tests bench chaos

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install
	$(PY) -m pytest tests/integration

schemas: install
	$(PY) -m schemas.export

# Benchmark (bench/README.md): its own broker on BENCH_KAFKA_PORT (default 29092) unless
# KAFKA_BOOTSTRAP_SERVERS is set; results in bench/results/latest.{md,json,png}.
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	@touch $@

bench: install $(VENV)/.bench-installed
	$(PY) -m bench

# Fault injection (chaos/): SIGKILLed workers and a restarted broker at full size; exit 1 on
# any violation; results in chaos/results/latest.{md,json}.
chaos: install
	MODEL_CHECK_SEED=random MODEL_CHECK_EXAMPLES=$${MODEL_CHECK_EXAMPLES:-3000} $(PY) -m pytest -q -p no:cacheprovider \
		tests/unit/app/engine/test_model_checker.py  # the engine's model checker, a long run (new seed)
	$(PY) -m chaos --guarantee at_least_once,exactly_once
	$(PY) -m chaos.hostile --scale full
	$(PY) -m soak --scale small

# Soak (soak/): one worker under a steady mixed load for 30 min; exit 1 if its RSS still grows
# after the warm-up or a send is lost or doubled; results in soak/results/latest.{md,json,png}.
soak: install $(VENV)/.bench-installed
	$(PY) -m soak

clean:
	rm -rf $(VENV) .data .pytest_cache
