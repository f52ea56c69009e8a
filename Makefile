# The two commands of the README: `make demo` and `make test`.
# Both first run the idempotent bootstrap (libtorch + MiniLM, cached in
# ~/.cache/stancepipe); cargo finds libtorch through .cargo/config.toml.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: bootstrap build demo test lint fmt quality

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release -p stancepipe-cli

demo: build
	./target/release/stancepipe run --config pipeline.toml --pretty --output out/seeds.json seeds/
	@bash scripts/digest.sh out/seeds.json

test: bootstrap
	$(CARGO) test --workspace

lint: bootstrap
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every figure of docs/quality.md, by `stancepipe eval` (needs ../shared/data).
quality: build
	bash scripts/quality.sh
