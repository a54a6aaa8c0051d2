# The README's two promises: `make run` runs the whole product locally, `make test` runs every test.
.PHONY: run test lint bench build-lambda clean

run:
	@scripts/setup.sh
	cargo run --quiet --locked -p gamify-local

test:
	@scripts/test.sh

lint:
	@scripts/lint.sh

bench:
	@scripts/bench.sh

build-lambda:
	@scripts/build-lambda.sh

clean:
	rm -rf target .local
