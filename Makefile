# Tabella — the two commands that matter: `make run` and `make test`.
GO ?= go
# Code generation tools, pinned and installed into .bin by `go install`.
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
TOOLS := $(CURDIR)/.bin
export PATH := $(TOOLS):$(PATH)

.PHONY: all build run test test-short lint proto proto-check tools clean fuzz localnet localnet-stop soak bench

all: build

build:
	$(GO) build -o bin/tabellad ./cmd/tabellad
	$(GO) build -o bin/tabella ./cmd/tabella

## run: single-node dev network with a demo consortium and an open initiative
run:
	$(GO) run ./cmd/tabellad dev

## test: lint, check generated code is fresh, run every test (fuzz seeds included),
## and the state machine and the ABCI application (whose block writes run on their own
## goroutine) under the race detector
# The multi-node suite runs last and alone: on a two-core machine its
# five-process networks must not share the CPU with the other packages.
test: lint proto-check
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/testnet$$')
	$(GO) test -count=1 -race ./ledger/ ./app/
	$(GO) test -count=1 -timeout 15m ./testnet/

## test-short: unit tests only, no processes
test-short:
	$(GO) test -short ./...

lint:
	$(GO) vet ./...
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc

## proto: regenerate the Go code from proto/ (committed)
proto: tools
	cd proto && buf lint && buf generate

## proto-check: fail when the committed generated code is stale
proto-check: tools
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd proto && buf lint && buf generate -o $$tmp) && \
	  for f in $$(cd $$tmp && find . -name '*.go'); do \
	    cmp -s $$tmp/$$f proto/$$f || { echo "generated code is stale: proto/$$f (run make proto)"; exit 1; }; \
	  done && \
	  n1=$$(cd $$tmp && find . -name '*.go' | wc -l) && n2=$$(cd proto && find . -name '*.go' | wc -l) && \
	  [ "$$n1" = "$$n2" ] || { echo "generated file set differs (run make proto)"; exit 1; }
	@echo "generated code is up to date"

## fuzz: run every fuzz target for FUZZTIME each (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./ledger | grep ^Fuzz); do \
	  echo "== $$t"; $(GO) test ./ledger -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; done

## localnet: generate (once) and start the example four-party network as processes
LOCALNET_DIR ?= testnet/out
localnet: build
	@[ -f $(LOCALNET_DIR)/network.json ] || bin/tabellad testnet --parties testnet/parties.yaml --output $(LOCALNET_DIR)
	scripts/localnet.sh start $(LOCALNET_DIR)

localnet-stop:
	scripts/localnet.sh stop $(LOCALNET_DIR)

## bench: the standard benchmark set; rewrites the generated part of docs/performance.md
bench:
	scripts/bench.sh

## soak: run the fault-tolerance suite for DURATION per scenario
DURATION ?= 10m
soak:
	TABELLA_SOAK=$(DURATION) $(GO) test -count=1 -timeout 0 -v -run 'TestFault' ./testnet/

clean:
	rm -rf bin .bin .tabella-dev testnet/out
