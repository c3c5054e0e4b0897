# dcom-detect: one engine (core/), many doors (python/, ffi/).
#   make demo   the dcom-detect command on the bundled sample data (alerts as NDJSON)
#   make test   the whole test suite (Rust, C, Python)

CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
SAMPLE ?= examples/data/sample.ndjson

.PHONY: demo venv deps test test-rust test-c test-python bench bench-c header clean

# The main job: the `dcom-detect` command (built into $(VENV)) on the bundled sample.
# It exits 1 when it finds alerts, which is the point of the demo.
demo: venv
	$(VENV)/bin/dcom-detect scan --stats $(SAMPLE) || [ $$? -eq 1 ]

# A virtual environment with the package built from this checkout (dev profile).
venv:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q 'maturin>=1.7,<2'
	. $(VENV)/bin/activate && maturin develop -q

test: deps test-rust test-c test-python

# System tools the C tests need (valgrind, compilers, pkg-config), when missing.
deps:
	bash scripts/install-deps.sh

# Core also without its default features (no files, gzip or EVTX: what the C library
# builds), so the feature gates cannot rot.
test-rust:
	$(CARGO) test --workspace
	$(CARGO) build -p dcom-detect-core --no-default-features
	$(CARGO) test -p dcom-detect-core --no-default-features

test-c:
	bash ffi/tests/run.sh

test-python:
	bash python/tests/run.sh

bench:
	$(CARGO) bench -p dcom-detect-core

bench-c:
	bash ffi/benches/run.sh

# Regenerates include/dcom_detect.h from ffi/ (the test suite checks it is current).
header:
	DCOM_REGENERATE_HEADER=1 $(CARGO) test -p dcom-detect-ffi --test it -- header

clean:
	$(CARGO) clean
	rm -rf $(VENV)
