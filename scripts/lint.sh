#!/usr/bin/env bash
# make lint: gofmt, go vet and golangci-lint with the linters .golangci.yml chooses.
# golangci-lint is pinned here and installed once into the git-ignored .huddle/bin
# through the Go module proxy, like the other tools the scripts install, so every
# machine lints with the same version.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v2.15.0
bin="${HUDDLE_DEV_DIR:-.huddle}/bin"
lint="$bin/golangci-lint-$version"
if [ ! -x "$lint" ]; then
  echo "lint: installing golangci-lint $version"
  mkdir -p "$bin"
  GOBIN="$(pwd)/$bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
  mv "$bin/golangci-lint" "$lint"
fi
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "lint: not gofmt-ed:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
# Two checkouts on one machine (a clone beside a working tree) share golangci-lint's
# lock file; without this the second fails at once instead of waiting its turn.
"$lint" run --allow-parallel-runners ./...
