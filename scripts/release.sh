#!/usr/bin/env bash
# make release VERSION=vX.Y.Z: the release's files in dist/VERSION/, built from the tagged commit:
#   syncer_VERSION_OS_ARCH[.exe]   a static binary per target, stamped with VERSION and the commit
#   syncer_VERSION_OS_ARCH.cdx.json  its CycloneDX SBOM: the modules linked into it, Go included
#   syncer_VERSION_SHA256SUMS      SHA-256 of every file above (sha256sum -c reads it)
# and the container image (syncer:VERSION, or IMAGE=...) when a Docker engine with buildx answers;
# otherwise it prints the exact command to run where one does.
#
# The same commit gives the same bytes: scripts/gobuild.sh fixes every build flag, the toolchain
# is RELEASE_GO (GOTOOLCHAIN), the SBOM has no timestamp, a serial number derived from the
# version, commit and target and no hash of the tool's own executable (scripts/sbomnormalize),
# and the checksums are listed in byte order.
# `make release-check` builds everything twice and compares.
#
# Set by the Makefile: VERSION, RELEASE_GO, RELEASE_TARGETS, CYCLONEDX.
# RELEASE_CHECKS=0 (release-check and the tests only): build the working tree as it is, with
# COMMIT as given, without the clean-tree and tag checks and without the image.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'release: %s\n' "$*" >&2; exit 1; }

# Nothing of the caller's Go settings reaches the tools; scripts/gobuild.sh sets the build's.
unset GOFLAGS GOOS GOARCH GOAMD64 GOARM64 GOEXPERIMENT CGO_ENABLED GOWORK GOFIPS140

: "${VERSION:?VERSION=vX.Y.Z}" "${RELEASE_GO:?}" "${RELEASE_TARGETS:?}" "${CYCLONEDX:?}"
GO=${GO:-go}
checks=${RELEASE_CHECKS:-1}
out=${OUT:-dist/$VERSION}
module=$(sed -n 's/^module //p' go.mod)

# What is released is a version users can ask go install for, and the CHANGELOG says what it brings.
[[ $VERSION =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION=$VERSION is not a semantic version vMAJOR.MINOR.PATCH (go install $module/cmd/syncer@VERSION needs one)"
newest=$(scripts/changelog-version.sh)
[ "$newest" = "$VERSION" ] ||
  die "CHANGELOG.md's newest version is ${newest:-none}, not $VERSION: add a '## [$VERSION] - YYYY-MM-DD' entry saying what it brings (and pin it in docs/deploy)"

if [ "$checks" = 1 ]; then
  [ -z "$(git status --porcelain)" ] ||
    die "the working tree has changes (git status): a release is built from a commit, so that its commit stamp and go install $module/cmd/syncer@$VERSION give the same program"
  head=$(git rev-parse HEAD)
  tagged=$(git rev-parse -q --verify "refs/tags/$VERSION^{commit}") ||
    die "no tag $VERSION. Tag the commit to release and push the tag first (go install ...@$VERSION and the recipes fetch it): git tag -a $VERSION -m 'syncer $VERSION' && git push origin $VERSION"
  [ "$tagged" = "$head" ] || die "tag $VERSION is commit $tagged but HEAD is $head: git checkout $VERSION"
  [ -z "${COMMIT:-}" ] || [ "$COMMIT" = "$head" ] || die "COMMIT=$COMMIT is not HEAD ($head)"
  COMMIT=$head
fi
COMMIT=${COMMIT:-$(git rev-parse HEAD)}

# The toolchain is part of the input: RELEASE_GO, fetched through the module proxy if it is not
# the local go (RELEASE_GO=local: whatever go is, for the tests).
export GOTOOLCHAIN=$RELEASE_GO
goversion=$("$GO" env GOVERSION)
[ "$RELEASE_GO" = local ] || [ "$goversion" = "$RELEASE_GO" ] ||
  die "go env GOVERSION says $goversion, not $RELEASE_GO (GOTOOLCHAIN=$RELEASE_GO)"

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

# A CycloneDX serial number must be a UUID and differ between BOMs: derive one (version 5 form)
# from what the BOM describes, instead of a random one that would change on every build.
serial_for() {
  local h
  h=$(printf '%s' "$1" | sha256 | cut -c1-32)
  printf '%s-%s-5%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(((0x${h:16:1} & 3) | 8)) "${h:17:3}" "${h:20:12}"
}

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
# The SBOM tool comes from the module proxy at a pinned version (checked against the Go checksum
# database) and is built apart from the syncer's module (go run pkg@version): go.mod doesn't
# gain its dependencies.
cyclonedx() { "$GO" run "$CYCLONEDX" "$@"; }
# It hashes its own executable into every SBOM, which differs with the build host's OS: drop that.
"$GO" build -o "$tools/sbomnormalize" ./scripts/sbomnormalize

rm -rf "$out"
mkdir -p "$out"
echo "release $VERSION: commit $COMMIT, $goversion, into $out/"
for target in $RELEASE_TARGETS; do
  os=${target%/*} arch=${target#*/}
  name=syncer_${VERSION}_${os}_${arch}
  exe=$name
  [ "$os" = windows ] && exe=$name.exe
  GOOS=$os GOARCH=$arch VERSION=$VERSION COMMIT=$COMMIT GO=$GO scripts/gobuild.sh "$out/$exe"
  # -std lists Go itself (its version decides which Go vulnerabilities apply); -licenses reads
  # each module's licence from the module cache. No timestamp: the date is the commit's.
  cyclonedx bin -json -std -licenses -notimestamp \
    -serial "$(serial_for "$module $VERSION $COMMIT $os/$arch")" \
    -version "$VERSION" -output "$out/$name.cdx.json" "$out/$exe" 2>"$tools/sbom.log" ||
    { cat "$tools/sbom.log" >&2; die "SBOM for $exe failed"; }
  "$tools/sbomnormalize" "$out/$name.cdx.json"
  chmod 0755 "$out/$exe"
  chmod 0644 "$out/$name.cdx.json"
  echo "  $exe + $name.cdx.json"
done
sums=syncer_${VERSION}_SHA256SUMS
(cd "$out" && LC_ALL=C ls | LC_ALL=C sort | while read -r f; do sha256 "$f"; done) >"$tools/sums"
mv "$tools/sums" "$out/$sums"
chmod 0644 "$out/$sums"
echo "  $sums"

[ "$checks" = 1 ] || exit 0

# The release notes: the CHANGELOG's entry for this version.
notes=$out.notes.md
awk -v v="$VERSION" '/^## \[/ { on = index($0, "## [" v "]") == 1; next } on' CHANGELOG.md >"$notes"

# The image: the Dockerfile builds the same linux binary through scripts/gobuild.sh.
image=${IMAGE:-syncer:$VERSION}
if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
  IMAGE=$image COMMIT=$COMMIT scripts/image.sh
  echo "  push it: docker tag $image REGISTRY/syncer:$VERSION && docker push REGISTRY/syncer:$VERSION"
else
  echo "image: SKIPPED, no Docker engine with buildx answers here (docker info / docker buildx version failed)."
  echo "  Where one does, from this commit: $(IMAGE=$image COMMIT=$COMMIT scripts/image.sh --print)"
fi

cat <<EOF
Done. Check it, then publish the files (not the notes) as the GitHub release $VERSION:
  (cd $out && sha256sum -c $sums)
  gh release create $VERSION --verify-tag --title "syncer $VERSION" --notes-file $notes $out/*
EOF
