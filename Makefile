# smartlic — two commands on a fresh machine: `make demo` and `make test`.
# Everything else (the virtual environment, Python packages) is installed on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# uv itself lives in its own small environment, installed from requirements/bootstrap.txt (hashes).
TOOLS  := .venv-tools
UV     := $(TOOLS)/bin/uv
# uv never downloads a Python of its own: the project runs on the machine's interpreter.
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: install demo test check lint lint-with format bench clean golden browser fuzz lock test-latest

install: $(STAMP)

$(UV): requirements/bootstrap.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "smartlic needs Python >= 3.11")'
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --no-deps --require-hashes -r requirements/bootstrap.txt
	touch $(UV)

# Exactly the versions (and hashes) of uv.lock; --locked stops if pyproject.toml changed without
# `make lock`, rather than installing something nobody tested.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --extra dev --python $(PYTHON)
	touch $(STAMP)

# Refresh the locks on purpose: newest versions that satisfy pyproject.toml, then `make test`.
lock: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	$(UV) pip compile --quiet --upgrade --generate-hashes --universal --python-version 3.11 \
	  requirements/bootstrap.in -o requirements/bootstrap.txt

# The browser tests drive Debian's chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { echo "installing chromium from the Debian packages"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/smartlic lab demo

lint: install
	$(MAKE) --no-print-directory lint-with BIN=$(BIN)

lint-with:
	$(BIN)/ruff check src tests bench scripts fuzz
	$(BIN)/ruff format --check src tests bench scripts fuzz
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench scripts fuzz
	$(BIN)/ruff check --fix src tests bench scripts fuzz

test: install browser
	$(MAKE) --no-print-directory check BIN=$(BIN)

# The whole suite with the tools of BIN (the locked .venv, or the throwaway one of test-latest).
check: lint-with
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_TEST_PG_URL="$$url" $(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The suite against the newest release of every dependency, in a throwaway environment: drift
# found on purpose, before `make lock` moves the lock to it.
LATEST := .venv-latest
test-latest: $(UV) browser
	rm -rf $(LATEST)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST)
	VIRTUAL_ENV=$(LATEST) $(UV) pip install --quiet --upgrade --refresh -e '.[dev]'
	$(MAKE) --no-print-directory check BIN=$(LATEST)/bin

bench: install
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_BENCH_PG_URL="$$url" $(BIN)/python bench/run_all.py

# Coverage-guided fuzzing of every parser with atheris (fuzz/), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: install
	$(UV) sync --locked --extra dev --extra fuzz --python $(PYTHON)
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/run_all.py

golden: install
	$(BIN)/python scripts/make_golden_vectors.py

clean:
	rm -rf $(VENV) $(TOOLS) $(LATEST) .pytest_cache .mypy_cache .ruff_cache .hypothesis
