# Developer targets; .ci/run is what CI runs. Variables can be overridden:
#   make bench BENCH=Forward PKGS=./loadgen COUNT=5
#   make fuzz FUZZTIME=30s FUZZMINTIME=10s
#   make benchstat OLD=old.txt NEW=bench.txt

GO          ?= go
PKGS        ?= ./...
BENCH       ?= .
COUNT       ?= 10
BENCHTIME   ?= 1s
FUZZTIME    ?= 10s
FUZZMINTIME ?= 5s
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
BENCHSTAT   ?= $(shell command -v benchstat 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/benchstat)
OLD         ?= old.txt
NEW         ?= bench.txt

.PHONY: all install check test bench benchstat fuzz e2e loadtest tools

all: check test

# l2hub into $(go env GOBIN), or $(go env GOPATH)/bin when that is empty. The
# first build compiles gVisor's network stack (a few minutes): -v lists the
# packages as they compile.
install:
	@dir=$$($(GO) env GOBIN); dir=$${dir:-$$($(GO) env GOPATH)/bin}; \
	echo "installing l2hub into $$dir; the first build compiles gVisor (a few minutes)"
	$(GO) install -v ./cmd/l2hub

# gofmt, go vet (with the e2e files) and staticcheck; each must be silent.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	$(STATICCHECK) ./...

test:
	$(GO) test -race ./...

# Benchmarks with -count suitable for benchstat; results in bench.txt.
# Compare two runs with `make benchstat OLD=before.txt NEW=after.txt`.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -count $(COUNT) $(PKGS) | tee bench.txt

benchstat:
	$(BENCHSTAT) $(OLD) $(NEW)

# Every fuzz target, one after another, for FUZZTIME each (CI runs only
# their seed corpora, as part of `make test`). Minimising a new input may
# take FUZZMINTIME at most: the default, 60s, would let one slow input eat
# a short FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg; \
		done; \
	done

# The QEMU end-to-end suite (needs QEMU; as root it runs in a private network
# namespace, without root on the host's loopback; see e2e/).
e2e:
	$(GO) test -count=1 -tags e2e ./e2e/...

# The QEMU-protocol load generator: l2hub against a direct VM pair and a
# multicast group (a few minutes; `make loadtest ARGS=--quick`).
loadtest:
	$(GO) run ./cmd/l2hub bench $(ARGS)

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(GO) install golang.org/x/perf/cmd/benchstat@latest
