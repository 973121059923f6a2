# The two commands a newcomer needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/syncer
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# RACE=auto (default): -race when cgo can build it (CGO_ENABLED=1 and the C compiler on PATH),
# else a one-line note and no -race. RACE=1: -race or fail (CI). RACE=0: never.
RACE    ?= auto

.PHONY: all build test bench lint tidy-check demo clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/syncer

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

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: build
	@./scripts/demo.sh $(BIN)

clean:
	rm -rf bin
