# The two commands a newcomer types: `make run` and `make test`. Each does its own set-up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2

.PHONY: setup system-deps run test lint docs-check bench soak container-test clean

# Idempotent: the stamp is rebuilt only when the dependencies change; model fetches skip files
# that are already present and verified.
setup: .setup-stamp system-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/build-models.sh default models
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/build-models.sh cydral models
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/build-models.sh levi-hassner models

.setup-stamp: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[worker,quantise,dev]'
	touch $@

# Debian packages the tests need: redis-server (the tests start their own), chromium and its
# driver (browser test), docker-compose (validates the compose file), OpenStack Swift and memcached
# (a real S3 server for the s3:// blob store tests). Installed only if missing.
system-deps:
	@bash scripts/system-deps.sh

run: setup
	$(BIN)/readface up --port $(PORT) --workers $(WORKERS)

# Four test processes (pytest-xdist), a file each at a time: most tests wait on real servers and
# workers rather than compute, so the suite's wall time falls with little more CPU.
test: setup
	$(BIN)/pytest -q -n 4 --dist loadfile

lint: .setup-stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api cli worker shared

# Every command in README.md and docs/ still names a real target, sub-command, option, module,
# file, route or setting (docs/development.md, "The docs check"); seconds, no models loaded.
docs-check: .setup-stamp
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_docs_commands.py

bench: setup
	$(PY) -m bench

# The load test: 1,000 submissions (320 distinct photos) against 2 workers; fails if anything
# accepted is lost, a deduplicated id runs twice, or a key has no TTL.
soak: setup
	$(PY) -m bench.faults.load

# The abuse suite (issues 19, 25 and 26): each attack bounded in count and time against a local stack,
# then each image bomb against a fresh one; fails only when a functional bound breaks (an
# unrelated analysis held up, /healthz slow, memory or /metrics growing per request, a bomb's
# answer, a worker past its memory ceiling, another tenant's photo overtaken by a flood), never on
# speed.
.PHONY: abuse
abuse: setup
	$(PY) -m bench.faults.abuse
	$(PY) -m bench.faults.abuse_images
	$(PY) -m bench.faults.abuse_fairness

# The images built from the Dockerfiles (on base images made locally with debootstrap) and run
# with compose: checked from inside, photos analysed, a worker host lost, Redis restarted. Installs
# Docker's Debian packages and starts dockerd if needed; leaves no container, network or volume.
container-test: .setup-stamp
	bash scripts/container-test.sh

clean:
	rm -rf $(VENV) .setup-stamp var
