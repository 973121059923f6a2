# The two commands a newcomer needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/syncer
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# The commit `syncer version` prints: HEAD, with -dirty for uncommitted changes.
COMMIT  ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || c=$$c-dirty; echo $$c; })
# RACE=auto (default): -race when cgo can build it (CGO_ENABLED=1 and the C compiler on PATH),
# else a one-line note and no -race. RACE=1: -race or fail (CI). RACE=0: never.
RACE    ?= auto

# Releases: `make release VERSION=vX.Y.Z` (README, "Installing a release"). RELEASE_GO is the
# toolchain every release is built with (through GOTOOLCHAIN; the Dockerfile's golang image is
# the same version), CYCLONEDX the SBOM tool, fetched from the module proxy at this version.
RELEASE_GO      := go1.26.8
RELEASE_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
CYCLONEDX       := github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
RELEASE_ENV      = GO=$(GO) RELEASE_GO=$(RELEASE_GO) RELEASE_TARGETS="$(RELEASE_TARGETS)" CYCLONEDX=$(CYCLONEDX)

.PHONY: all build test bench bench-sweep lint tidy-check demo clean release release-check install-check image

all: build

# The same build as a release's (scripts/gobuild.sh), stamped with git describe and the commit.
build:
	VERSION=$(VERSION) COMMIT=$(COMMIT) GO=$(GO) ./scripts/gobuild.sh $(BIN)

# dist/VERSION/: binaries for RELEASE_TARGETS, their SBOMs, SHA-256 checksums; and the image
# where a Docker engine runs. From a clean tree at the tag VERSION, which CHANGELOG.md's newest
# entry must name.
release:
	@case "$(origin VERSION)" in command*|environment*) ;; *) echo "usage: make release VERSION=vX.Y.Z"; exit 2 ;; esac
	@$(RELEASE_ENV) VERSION=$(VERSION) ./scripts/release.sh

# Is this tree releasable? Every target built twice (the second time from a copy elsewhere with
# an empty build cache and module cache) must give the same bytes, SBOMs and checksums included;
# and go install .../cmd/syncer@latest must work from a clean module cache (install-check).
# Slow: every target is compiled from nothing once (about 3 CPU-minutes each).
release-check: install-check
	@$(RELEASE_ENV) ./scripts/release-check.sh

install-check:
	@GO=$(GO) ./scripts/install-check.sh

# The container image alone, stamped (needs Docker with buildx, not Go): in a checkout of a
# release's tag, `make image VERSION=vX.Y.Z IMAGE=REGISTRY/syncer:vX.Y.Z`.
IMAGE    ?= syncer:$(VERSION)
PLATFORM ?= linux/amd64
image:
	@VERSION=$(VERSION) IMAGE=$(IMAGE) PLATFORM=$(PLATFORM) ./scripts/image.sh

test: lint tidy-check
	@set -e; race=; \
	cgo_ok() { [ "$$($(GO) env CGO_ENABLED)" = 1 ] && set -- $$($(GO) env CC) && [ -n "$${1:-}" ] && command -v "$$1" >/dev/null 2>&1; }; \
	case "$(RACE)" in \
	  1) if cgo_ok; then race=-race; else \
	       echo "RACE=1 but -race can't run: it needs cgo (CGO_ENABLED=$$($(GO) env CGO_ENABLED)) and a C compiler (CC=$$($(GO) env CC))"; exit 1; fi ;; \
	  0) ;; \
	  *) if cgo_ok; then race=-race; else echo "no C compiler: running without -race"; fi ;; \
	esac; \
	echo "$(GO) test $${race:+$$race }-count=1 ./..."; \
	$(GO) test $$race -count=1 ./...; \
	found=; for b in $${SYNCER_CHROMIUM:-chromium chromium-browser google-chrome google-chrome-stable headless_shell headless-shell}; do \
	  command -v "$$b" >/dev/null 2>&1 && found=$$b && break; done; \
	[ -n "$$found" ] || echo "NOTE: no Chromium found, so the browser tests (the HTML report, serve's pages) were SKIPPED; install chromium (or set SYNCER_CHROMIUM) to run them"

# go.mod and go.sum must be exactly what `go mod tidy` would write.
tidy-check:
	@out=$$($(GO) mod tidy -diff) && [ -z "$$out" ] || { \
	  echo "go.mod/go.sum are not tidy; run go mod tidy. go mod tidy -diff says:"; echo "$$out"; exit 1; }

# Benchmarks print their figures (wall time, peak RSS, quota efficiency).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./...

# The sweep (cmd/syncer/bench_sweep_test.go): every kind of run over a grid of worlds, the
# worst ratio per kind against its target. About 13 minutes; SWEEP=kind[/world] for part of it.
SWEEP ?=
bench-sweep:
	SYNCER_SWEEP=1 $(GO) test -run '^$$' -bench 'Sweep/$(SWEEP)' -benchtime 1x -count 1 -timeout 3h ./cmd/syncer/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: build
	@./scripts/demo.sh $(BIN)

clean:
	rm -rf bin dist
