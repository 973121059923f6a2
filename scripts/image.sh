#!/usr/bin/env bash
# make image (and make release): the container image, stamped and reproducible.
#
#   VERSION=v0.1.0 [IMAGE=syncer:v0.1.0] [PLATFORM=linux/amd64] scripts/image.sh [--print] [FLAG ...]
#
# COMMIT defaults to HEAD (with -dirty for uncommitted changes) and SOURCE_DATE_EPOCH to the
# commit's time, which the image's dates take (rewrite-timestamp), so the same commit gives the
# same image ID. --print only prints the command; other FLAGs go to docker buildx build.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VERSION:?VERSION=vX.Y.Z}"
image=${IMAGE:-syncer:$VERSION}
platform=${PLATFORM:-linux/amd64}
if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD)
  git diff --quiet HEAD || COMMIT=$COMMIT-dirty
fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct "${COMMIT%-dirty}")}
print=0
if [ "${1:-}" = --print ]; then print=1; shift; fi
cmd=(docker buildx build --provenance=false --platform "$platform"
  --build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT" --build-arg "SOURCE_DATE_EPOCH=$epoch"
  --output "type=docker,name=$image,rewrite-timestamp=true" "$@" .)
if [ "$print" = 1 ]; then
  echo "SOURCE_DATE_EPOCH=$epoch ${cmd[*]}"
  exit 0
fi
docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 || {
  echo "image: no Docker engine with buildx answers here (docker info / docker buildx version failed); where one does:" >&2
  echo "  SOURCE_DATE_EPOCH=$epoch ${cmd[*]}" >&2
  exit 1
}
SOURCE_DATE_EPOCH=$epoch "${cmd[@]}"
echo "image $image ($platform): $(docker image inspect --format '{{.Id}}' "$image")"
