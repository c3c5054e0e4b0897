# dcom-detect: one engine (core/), many doors (python/, ffi/).
#   make demo   run the rule over the bundled sample data
#   make test   the whole test suite (Rust, C, Python)

CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
SAMPLE ?= examples/data/sample.ndjson

.PHONY: demo test test-rust test-c test-python bench bench-c header clean

demo:
	$(CARGO) run --release -q -p dcom-detect-core --example scan -- $(SAMPLE)

test: test-rust test-c test-python

test-rust:
	$(CARGO) test --workspace

test-c:
	bash ffi/tests/run.sh

test-python:
	@if [ -f pyproject.toml ]; then bash python/tests/run.sh; else echo "test-python: no Python package yet"; fi

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
