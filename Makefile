# dcom-detect: one engine (core/), many doors (python/, ffi/).
#   make demo   the dcom-detect command on the bundled sample data (alerts as NDJSON)
#   make test   the whole test suite (lint, Rust, C, Python)
#   make lint   cargo fmt --check and cargo clippy -D warnings on the whole workspace
#   make install PREFIX=/usr/local [DESTDIR=...]   the C library, its header and dcom_detect.pc

CARGO ?= cargo
PYTHON ?= python3
VENV ?= .venv
SAMPLE ?= examples/data/sample.ndjson

# Where `make install` puts the C library (DESTDIR: a staging root for packagers).
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Cargo's output directory: $CARGO_TARGET_DIR (relative to this directory) or target/.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# The soname's version (ffi/build.rs): the major version, so libdcom_detect.so.0 for 0.x.
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
# What the Rust standard library needs from the system when libdcom_detect.a is linked: the
# list `cargo rustc --release -p dcom-detect-ffi --lib -- --print native-static-libs` prints on
# x86_64-linux-gnu (Rust 1.95). Another target may need another list. Written into dcom_detect.pc's
# Libs.private; ffi/tests/run.sh links the tests and examples/sensor.c statically with it.
NATIVE_STATIC_LIBS ?= -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: demo venv deps test lint test-rust test-c test-python bench bench-c header lib install clean

# The main job: the `dcom-detect` command (built into $(VENV)) on the bundled sample.
# It exits 1 when it finds alerts, which is the point of the demo.
demo: venv
	$(VENV)/bin/dcom-detect scan --stats $(SAMPLE) || [ $$? -eq 1 ]

# A virtual environment with the package built from this checkout (dev profile).
venv:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q 'maturin>=1.7,<2'
	. $(VENV)/bin/activate && maturin develop -q

test: deps lint test-rust test-c test-python

# Formatting and clippy, warnings as errors, on every crate and target (tests, benches), and on
# core without its default features (the C library's build), so a cfg'd-out import shows.
lint:
	@if $(CARGO) fmt --version >/dev/null 2>&1; then \
		set -x; $(CARGO) fmt --all --check; \
	else \
		echo "make lint: rustfmt is not installed (rustup component add rustfmt): formatting NOT checked"; \
	fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then \
		set -x; \
		$(CARGO) clippy --workspace --all-targets -- -D warnings && \
		$(CARGO) clippy -p dcom-detect-core --no-default-features --all-targets -- -D warnings; \
	else \
		echo "make lint: cargo clippy is not installed (rustup component add clippy): clippy NOT run"; \
	fi

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

# The C library, release build: $(TARGET_DIR)/release/libdcom_detect.{a,so}.
lib:
	$(CARGO) build --release -p dcom-detect-ffi --lib

# The C library as C libraries are installed: the header, libdcom_detect.a,
# libdcom_detect.so.$(VERSION) with its soname link (.so.$(SOVERSION)) and development link
# (.so), and dcom_detect.pc (shared: pkg-config --libs dcom_detect; static: --static, see
# README). A program built against it finds the .so through the loader's path, an rpath or
# LD_LIBRARY_PATH.
install: lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/dcom_detect.h $(DESTDIR)$(INCLUDEDIR)/dcom_detect.h
	install -m 644 $(TARGET_DIR)/release/libdcom_detect.a $(DESTDIR)$(LIBDIR)/libdcom_detect.a
	install -m 755 $(TARGET_DIR)/release/libdcom_detect.so $(DESTDIR)$(LIBDIR)/libdcom_detect.so.$(VERSION)
	ln -sf libdcom_detect.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libdcom_detect.so.$(SOVERSION)
	ln -sf libdcom_detect.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libdcom_detect.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|' \
		ffi/dcom_detect.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/dcom_detect.pc

# Regenerates include/dcom_detect.h from ffi/ (the test suite checks it is current).
header:
	DCOM_REGENERATE_HEADER=1 $(CARGO) test -p dcom-detect-ffi --test it -- header

clean:
	$(CARGO) clean
	rm -rf $(VENV)
