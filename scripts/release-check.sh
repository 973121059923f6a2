#!/usr/bin/env bash
# make release-check: builds the release twice and compares every file byte for byte.
#
#   1. here, with the usual build and module caches;
#   2. from a copy of the tree at another path, with an empty build cache, a new module cache
#      (filled from this one through a file:// proxy, then the real proxy) and an environment
#      that would change the output if it leaked in (GOFLAGS, GOAMD64, CGO_ENABLED, umask, TZ).
#
# The version is CHANGELOG.md's newest, the commit HEAD (with -dirty for uncommitted changes:
# the working tree is what is built). The image is built twice too where a Docker engine with
# buildx answers (its ID must not change, and its /syncer must be the linux/amd64 binary);
# otherwise this says it was skipped.
#
# Set by the Makefile: RELEASE_GO, RELEASE_TARGETS, CYCLONEDX.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
: "${RELEASE_GO:?}" "${RELEASE_TARGETS:?}" "${CYCLONEDX:?}"

VERSION=${VERSION:-$(scripts/changelog-version.sh)}
if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD)
  [ -z "$(git status --porcelain)" ] || COMMIT=$COMMIT-dirty
fi
export VERSION COMMIT RELEASE_CHECKS=0 GO

work=$(mktemp -d)
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== build 1: here"
OUT=$work/a scripts/release.sh

echo "== build 2: a copy at $work/src, empty GOCACHE, new GOMODCACHE, hostile environment"
mkdir "$work/src"
git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$work/src"
modcache=$("$GO" env GOMODCACHE)
(
  cd "$work/src"
  umask 077
  # Whatever the release sets must win over these.
  env GOCACHE="$work/gocache" GOMODCACHE="$work/modcache" GOPATH="$work/gopath" \
    GOPROXY="file://$modcache/cache/download,https://proxy.golang.org" \
    GOFLAGS="-buildvcs=true -tags=release_check_leak" GOAMD64=v3 GOARM64=v8.5 CGO_ENABLED=1 \
    TZ=Pacific/Kiritimati OUT="$work/b" scripts/release.sh
)

echo "== compare"
differ=0
for f in "$work"/a/*; do
  name=$(basename "$f")
  if ! cmp -s "$f" "$work/b/$name"; then
    differ=1
    echo "DIFFERS: $name"
    case "$name" in *.json | *SHA256SUMS) diff "$f" "$work/b/$name" | head -n 20 ;; esac
  fi
done
only=$( (cd "$work/a" && ls; cd "$work/b" && ls) | sort | uniq -u)
[ -z "$only" ] || { differ=1; echo "in one build only: $only"; }
[ "$differ" = 0 ] || { echo "release-check: FAILED, the two builds differ"; exit 1; }
sums=syncer_${VERSION}_SHA256SUMS
echo "release-check: $(ls "$work/a" | wc -l | tr -d ' ') files identical in both builds; $sums:"
sed 's/^/  /' "$work/a/$sums"

if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
  echo "== image, twice, without the build cache"
  ids=()
  for i in 1 2; do
    IMAGE=syncer-release-check:$i PLATFORM=linux/amd64 scripts/image.sh --no-cache
    ids+=("$(docker image inspect --format '{{.Id}}' "syncer-release-check:$i")")
  done
  container=$(docker create syncer-release-check:1)
  docker cp "$container:/syncer" "$work/image-syncer"
  docker rm "$container" >/dev/null
  docker image rm syncer-release-check:1 syncer-release-check:2 >/dev/null
  [ "${ids[0]}" = "${ids[1]}" ] || { echo "release-check: FAILED, the image differs: ${ids[0]} vs ${ids[1]}"; exit 1; }
  cmp "$work/image-syncer" "$work/a/syncer_${VERSION}_linux_amd64" ||
    { echo "release-check: FAILED, the image's /syncer is not the release's linux/amd64 binary"; exit 1; }
  echo "release-check: the image is ${ids[0]} both times, and its /syncer is syncer_${VERSION}_linux_amd64"
else
  echo "release-check: image SKIPPED, no Docker engine with buildx answers here (docker info / docker buildx version failed)"
fi
