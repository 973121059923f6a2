#!/bin/sh
# The one way the syncer binary is built: `make build`, `make release` and the Dockerfile all
# run this, so a release binary, a local build and the image's binary differ only by what they
# are told (version, commit, target), never by the flags.
#
#   VERSION=v1.2.3 COMMIT=<full hash> [GOOS=linux GOARCH=arm64] scripts/gobuild.sh OUT
#
# Same source, toolchain, VERSION, COMMIT and target give the same bytes, whoever builds it and
# wherever the tree sits: paths are trimmed (-trimpath), nothing of the checkout is recorded
# (-buildvcs=false: the commit comes from COMMIT), the build ID is empty, cgo is off (no C
# toolchain), and every Go setting that changes the output is named here rather than taken from
# the caller's environment.
set -eu
out=${1:?usage: VERSION=v1.2.3 COMMIT=HASH scripts/gobuild.sh OUT}
version=${VERSION:-devel}
commit=${COMMIT:-}
# They go into -ldflags, split on spaces: refuse anything that would split or quote.
case "$version$commit" in
*[!A-Za-z0-9._+-]*)
  echo "gobuild.sh: VERSION=$version COMMIT=$commit: only letters, digits and . _ + - are allowed" >&2
  exit 2 ;;
esac
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."
CGO_ENABLED=0 GOFLAGS=-mod=readonly GOWORK=off GOEXPERIMENT= GOFIPS140=off GOAMD64=v1 GOARM64=v8.0 \
  exec "${GO:-go}" build -trimpath -buildvcs=false \
  -ldflags "-s -w -buildid= -X main.version=$version -X main.commit=$commit" \
  -o "$out" ./cmd/syncer
