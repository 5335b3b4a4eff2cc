# Entry points on a fresh machine (see README.md): `make book` and `make test`.
# Each creates the virtual environment .venv on first use (and again when pyproject.toml
# changes) and installs what it needs into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -qq
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml

.PHONY: test book release check-release clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0      # the CPU build, before anything that needs torch
	$(PIP) install -e ".[torch,tf,test,book]"
	touch $@

## The whole test suite, in quick mode: unit tests, release --check, every exercise
## template, every solution under nbval, and a book build smoke test.
test: $(STAMP)
	$(BIN)/python -m course_utils.notebooks nbval --out _build/nbval
	COURSE_QUICK=1 $(BIN)/python -m pytest tests _build/nbval --nbval-lax -p no:cacheprovider

## The book, in full mode, into book/_build/html (execution results are cached).
book: $(STAMP)
	env -u COURSE_QUICK $(JB) --path-output book -W -n --keep-going

## Regenerate exercise templates and paired notebooks after editing solutions/*.py.
release: $(STAMP)
	$(BIN)/python -m course_utils.notebooks release

check-release: $(STAMP)
	$(BIN)/python -m course_utils.notebooks release --check

clean:
	rm -rf _build book/_build
