#!/bin/sh
# Prints the newest released version in CHANGELOG.md: the first "## [vX.Y.Z] - date" heading
# ("## [Unreleased]" is not a version). make release refuses any other VERSION, and a test
# checks that every version the recipes pin is this one.
set -eu
cd "$(dirname "$0")/.."
sed -n 's/^## \[\(v[0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1
