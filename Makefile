# The two commands a newcomer needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/syncer
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: all build test bench lint demo clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/syncer

test: lint
	$(GO) test -race -count=1 ./...

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
