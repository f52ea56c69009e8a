# The two commands of the README: `make demo` and `make test`.
# Both first run the idempotent bootstrap (libtorch + MiniLM, cached in
# ~/.cache/stancepipe); cargo finds libtorch through .cargo/config.toml.
SHELL := /bin/bash
CARGO ?= cargo
# test-spark only: a Python with pyspark 3.5 (docs/spark.md).
PYTHON ?= python3

.PHONY: bootstrap build demo test lint fmt quality test-spark docs

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release -p stancepipe-cli

demo: build
	./target/release/stancepipe run --config pipeline.toml --pretty --output out/seeds.json seeds/
	@bash scripts/digest.sh out/seeds.json

# Bootstraps with --tests: also installs headless Chromium when missing.
test:
	@bash scripts/bootstrap.sh --tests
	$(CARGO) test --workspace

lint: bootstrap
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The option reference of docs/configuration.md, regenerated from the
# registry (`stancepipe stages --format markdown`; tests/docs.rs checks it).
docs: bootstrap
	UPDATE_DOCS=1 $(CARGO) test -p stancepipe-cli --test docs

# Every figure of docs/quality.md, by `stancepipe eval` (needs ../shared/data).
quality: build
	bash scripts/quality.sh

# Opt-in (not part of `make test`; needs pyspark and Java 17, see docs/spark.md):
# the Spark example's output must equal a single-process run's.
test-spark: build
	$(PYTHON) examples/spark/test_spark.py
