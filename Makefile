# Set-up is idempotent: every target below re-checks what is installed and skips what is done.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
EMBLY := $(abspath $(VENV))/bin/embly
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# nix, Rust with the wasm32-wasi std, the wasm tools, what build scripts link with, git (the
# tests compare input selection with it), and the sources of real crates, which the tests
# vendor with `cargo vendor` and no network (tests/debian_crates.py).
APT_PACKAGES := nix-bin rustc cargo libstd-rust-dev-wasm32 wabt binaryen lld-14 gcc git \
	librust-serde-dev librust-serde-derive-dev librust-serde-json-dev librust-regex-dev
EXAMPLE := examples/hello-project

.PHONY: setup system-packages toolchain demo test test-fast lint proto bench fresh-check clean

setup: system-packages $(VENV)/.installed toolchain

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "Install these with your package manager, then run make again: $$missing"; exit 1; \
	fi; \
	echo "Installing system packages:" $$missing; \
	$(SUDO) apt-get update -q && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

$(VENV)/.installed: pyproject.toml
	@# Debian's python3 makes a virtualenv only with python3-venv (its ensurepip) installed.
	@[ -x $(PY) ] || $(PYTHON) -c 'import ensurepip' 2>/dev/null || ! command -v apt-get >/dev/null || { \
		echo "Installing system packages: python3-venv"; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv; }
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# compat: the checkout goes on sys.path through a plain .pth. The default editable mode's
	@# import hook costs 8 ms at every start, half of what a no-op `embly build` takes.
	$(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=compat 2>/dev/null \
		|| $(PY) -m pip install -q -e '.[dev]'
	touch $@

toolchain: $(VENV)/.installed
	$(EMBLY) toolchains --provision

demo: setup
	cd $(EXAMPLE) && $(EMBLY) build
	cd $(EXAMPLE) && for function in greeter counter shout person; do \
		echo "\$$ embly run $$function -- Ada"; $(EMBLY) run $$function -- Ada || exit 1; \
	done

test: setup
	$(VENV)/bin/pytest -q

test-fast: system-packages $(VENV)/.installed
	$(VENV)/bin/pytest -q -m "not slow"

# Speed targets, each measured side by side with its baseline in one run.
bench: setup
	@command -v entr >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q entr
	@# Start-up as installed users have it, even where PYTHONDONTWRITEBYTECODE is set.
	$(PY) -m compileall -q embly_build
	cd benchmarks && for bench in bench_index.py bench_git_listing.py bench_build.py bench_real_size.py bench_scheduler.py bench_watch.py bench_load.py bench_upload.py bench_server_latency.py; do \
		../$(VENV)/bin/python $$bench || exit 1; \
	done

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check embly_build tests benchmarks
	$(VENV)/bin/ruff format --check embly_build tests benchmarks
	$(VENV)/bin/mypy

proto: $(VENV)/.installed
	rm -rf embly_build/generated.tmp && mkdir -p embly_build/generated.tmp
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m grpc_tools.protoc -I protos \
		--python_betterproto_out=embly_build/generated.tmp protos/embly/build/v1/build.proto
	rm -rf embly_build/generated && mv embly_build/generated.tmp embly_build/generated

# The set-up above (make demo) in a new Debian 12 container where nothing was installed by
# hand; FRESH_CHECK_TESTS=fast (or full) runs make test-fast (make test) there after it.
fresh-check:
	.ci/fresh_machine/run.sh

clean:
	rm -rf $(VENV) *.egg-info $(EXAMPLE)/embly_build
