# The two commands of the README: `make demo` and `make test`.
# Both first run the idempotent bootstrap (libtorch + MiniLM, cached in
# ~/.cache/stancepipe), whose paths land in .stancepipe-env.
SHELL := /bin/bash
ENV := set -a && . ./.stancepipe-env && set +a &&
CARGO ?= cargo

.PHONY: bootstrap build demo test lint fmt

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(ENV) $(CARGO) build --release -p stancepipe-cli

demo: build
	$(ENV) ./target/release/stancepipe run --config pipeline.toml --pretty --output out/seeds.json seeds/
	@bash scripts/digest.sh out/seeds.json

test: bootstrap
	$(ENV) $(CARGO) test --workspace

lint: bootstrap
	$(ENV) $(CARGO) fmt --all -- --check
	$(ENV) $(CARGO) clippy --workspace --all-targets -- -D warnings
