#!/usr/bin/env bash
# make install-check: does `go install github.com/syncer-dev/syncer/cmd/syncer@latest` work for
# someone with a clean module cache, once the newest CHANGELOG version is tagged?
#
# It clones this repository into a temporary folder, commits the working tree there and tags it
# with CHANGELOG.md's newest version (the tag exists only in that clone), then runs go install
# ...@latest with a fresh GOMODCACHE, GOPATH and GOBIN, the module fetched "direct" from that
# clone (git's url.insteadOf points the module's https URL at it) and every dependency from the
# module proxy (this machine's module cache first, as a file:// proxy). That is the path
# proxy.golang.org takes for a new tag: cmd/go resolves @latest from the tags, zips the module
# from git and checks its go.mod; so replace or exclude directives, a go directive newer than
# this toolchain (GOTOOLCHAIN=local), a main package that is not cmd/syncer, a file the module
# zip refuses or an untagged version fail here as they would for a user. Then the installed
# `syncer version` must name that version.
#
# What it does not prove: that the tag is pushed and the repository public, that
# proxy.golang.org and sum.golang.org serve it (the module is checked against no checksum
# database here: GOPRIVATE), or that a user's go is new enough (setup-go's stable is).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
unset GOFLAGS GOOS GOARCH GOWORK
module=$(sed -n 's/^module //p' go.mod)
version=$(scripts/changelog-version.sh)
[ -n "$version" ] || { echo "install-check: CHANGELOG.md names no version"; exit 1; }
modcache=$("$GO" env GOMODCACHE)

work=$(mktemp -d)
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The module's origin: this repository's history, plus the working tree as one more commit.
git clone -q --no-hardlinks "$PWD" "$work/origin"
(cd "$work/origin" && git ls-files -z | xargs -0 rm -f)
git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$work/origin"
g() { git -C "$work/origin" -c user.name=install-check -c user.email=install-check@invalid \
  -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }
g add -A
g commit -q --allow-empty -m "the working tree"
g tag -l | while read -r t; do g tag -d "$t" >/dev/null; done
g tag -a "$version" -m "syncer $version"

cat >"$work/gitconfig" <<CONF
[url "file://$work/origin"]
	insteadOf = https://$module
CONF
echo "install-check: go install $module/cmd/syncer@latest ($version tagged in a clone), clean module cache"
env GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1 \
  GOMODCACHE="$work/modcache" GOPATH="$work/gopath" GOBIN="$work/bin" \
  GOPRIVATE="$module" GOPROXY="file://$modcache/cache/download,https://proxy.golang.org" \
  GOTOOLCHAIN=local GOFLAGS=-mod=mod \
  "$GO" install "$module/cmd/syncer@latest"

got=$("$work/bin/syncer" version)
printf '%s\n' "$got" | sed 's/^/  /'
first=$(printf '%s\n' "$got" | head -n 1)
[ "$first" = "syncer $version" ] || { echo "install-check: FAILED, syncer version says '$first', want 'syncer $version'"; exit 1; }
printf '%s\n' "$got" | grep -q "^module: $module@$version h1:" ||
  { echo "install-check: FAILED, syncer version names no module checksum"; exit 1; }
echo "install-check: ok"
