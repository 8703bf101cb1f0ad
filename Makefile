# Each target is one line of intent; the scripts say how.
SHELL := /bin/bash
DEV_DIR := .huddle
TEST_DB = $${HUDDLE_TEST_DATABASE_URL:-$$(cat $(DEV_DIR)/test-database-url)}

.PHONY: run test e2e-stress bench fuzz lint build

run: ## bring Huddle up locally (provisions PostgreSQL when HUDDLE_DATABASE_URL is unset)
	@scripts/dev-run.sh

test: ## provision PostgreSQL, vet, and run every test (all but the browser tests with the race detector)
	@scripts/dev-postgres.sh test
	@scripts/test-deps.sh
	go vet ./...
	HUDDLE_TEST_DATABASE_URL="$(TEST_DB)" go test -race -count=1 $$(go list ./... | grep -v '/e2e$$')
	@# The browser tests run without the race detector: chromedp races with itself when it
	@# attaches to a frame (its DOM walk against its own event loop), which is not Huddle's
	@# code; Huddle's handlers run under -race in the web and domain packages. Every wait
	@# in them is bounded (30 s); the package's 15-minute limit only stops a hung browser.
	HUDDLE_TEST_DATABASE_URL="$(TEST_DB)" go test -count=1 -timeout 15m ./e2e

e2e-stress: ## run the browser tests three times in a row with both cores kept busy by stress-ng
	@scripts/e2e-stress.sh

bench: ## run the benchmarks against the real PostgreSQL
	@scripts/dev-postgres.sh test
	HUDDLE_TEST_DATABASE_URL="$(TEST_DB)" go test -run '^$$' -bench . -benchmem ./... && HUDDLE_TEST_DATABASE_URL="$(TEST_DB)" BENCH_LOAD_RATE="$${BENCH_LOAD_RATE:-500}" scripts/bench-load.sh

fuzz: ## run every fuzz target for FUZZTIME each (30s by default); make test runs their seeds
	@scripts/fuzz.sh

lint: ## gofmt, go vet and golangci-lint (pinned; installed by the script)
	@scripts/lint.sh

build: ## build the server (bin/huddle) and the load generator (bin/huddle-load)
	go build -o bin/ ./cmd/huddle ./cmd/huddle-load
