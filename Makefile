# dcom-detect: one engine (core/), many doors (python/, ffi/).
#   make demo   run the rule over the bundled sample data
#   make test   the whole test suite (Rust, C, Python)

CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
SAMPLE ?= examples/data/sample.ndjson

.PHONY: demo test test-rust test-c test-python bench header clean

demo:
	$(CARGO) run --release -q -p dcom-detect-core --example scan -- $(SAMPLE)

test: test-rust test-c test-python

test-rust:
	$(CARGO) test --workspace

test-c:
	@if [ -f ffi/tests/run.sh ]; then bash ffi/tests/run.sh; else echo "test-c: no C tests yet"; fi

test-python:
	@if [ -f pyproject.toml ]; then bash python/tests/run.sh; else echo "test-python: no Python package yet"; fi

bench:
	$(CARGO) bench -p dcom-detect-core

clean:
	$(CARGO) clean
	rm -rf $(VENV)
