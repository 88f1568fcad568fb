#!/usr/bin/env bash
# The standard benchmark set behind docs/performance.md (`make bench`):
#   1. Go benchmarks: block execution and raw ed25519 verification;
#   2. a single-node network: Tabella (`tabellad dev`) and CometBFT's
#      persistent kvstore, same consensus settings, txs of the same size,
#      BENCH_ROUNDS times (default 3), alternating; then Tabella with sealed
#      five-option ballots (a fresh dev network);
#   3. a four-validator network on this machine: the same pair, BENCH_ROUNDS
#      times, alternating.
# Results go to .bench/*.json and the generated section of
# docs/performance.md. BENCH_DURATION sets each timed window (default 60s);
# BENCH_SEALED_VOTERS the sealed ballots encrypted beforehand (default 120000,
# enough for a minute at 2,000/s; encrypting them takes a few ms each per core;
# 90,000 ran out within the window at 1,509/s).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-60s}
ROUNDS=${BENCH_ROUNDS:-3}
SEALED_VOTERS=${BENCH_SEALED_VOTERS:-120000}
BT=${BENCH_BLOCK_TIME:-200ms}
OUT=.bench
rm -rf "$OUT" && mkdir -p "$OUT"
# Every port the runs use must be free (other local networks use others).
# They lie below Linux's ephemeral range (32768-60999), where the load
# generator's own outgoing connections could take them.
for p in 29090 29656 29657 29756 29757 $(seq 28100 28140) $(seq 28300 28340); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use; stop what holds it" >&2; exit 1; fi
done
make build >/dev/null
GOBIN="$PWD/.bin" go install github.com/cometbft/cometbft/cmd/cometbft@v0.40.0
CMT="$PWD/.bin/cometbft"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# wait_grpc ADDR [LOG]: wait up to a minute for a node's API; on failure
# show the end of its log.
wait_grpc() {
  for _ in $(seq 200); do bin/tabella --node "$1" info >/dev/null 2>&1 && return 0; sleep 0.3; done
  echo "node $1 not ready" >&2; [ -n "${2:-}" ] && tail -20 "$2" >&2; return 1
}
wait_rpc() { for _ in $(seq 100); do curl -sf "http://$1/status" >/dev/null 2>&1 && return 0; sleep 0.3; done; echo "rpc $1 not ready" >&2; return 1; }

# kvstore_config HOME P2P RPC: the same consensus settings as Tabella's.
kvstore_config() {
  sed -i -e "s|^timeout_commit = .*|timeout_commit = \"$BT\"|" \
         -e 's|^recheck = true|recheck = false|' \
         -e 's|^create_empty_blocks_interval = .*|create_empty_blocks_interval = "1s"|' \
         -e 's|^allow_duplicate_ip = false|allow_duplicate_ip = true|' \
         -e 's|^addr_book_strict = true|addr_book_strict = false|' \
         -e "s|^laddr = \"tcp://0.0.0.0:26656\"|laddr = \"tcp://127.0.0.1:$2\"|" \
         -e "s|^laddr = \"tcp://127.0.0.1:26657\"|laddr = \"tcp://127.0.0.1:$3\"|" "$1/config/config.toml"
}

echo "== Go benchmarks"
# The two block benchmarks the report uses run twenty iterations, the
# signature micro-benchmarks a second each (twenty single verifications are
# too few to time); three times each, the report takes the median, since
# one run moves by a third from one to the next on a shared VM.
{ go test ./ledger -run '^$' -bench '^BenchmarkFinalizeBlock(AfterCheckTx)?$' -benchtime 20x -count 3
  go test ./ledger -run '^$' -bench 'Ed25519' -benchtime 1s -count 3; } | tee "$OUT/gobench.txt"

# One run of either application moves by a quarter or more from the next on
# a shared VM, so each network's pair runs ROUNDS times, alternating, and the
# report takes the median ratio. Every run starts from a fresh home.

# tabella1 N: a fresh single-node dev network under load.
tabella1() {
  local home="$OUT/dev-$1"
  bin/tabellad dev --home "$home" --block-time "$BT" --grpc 127.0.0.1:29090 --rpc tcp://127.0.0.1:29657 --p2p tcp://127.0.0.1:29656 >"$home.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_grpc 127.0.0.1:29090 "$home.log"; sleep 2
  bin/tabella --home "$home" --node 127.0.0.1:29090 -o json bench --voters 600000 --duration "$DUR" \
    --concurrency 4096 --pid "$pid" --data-dir "$home/data" >"$OUT/tabella-1-$1.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

# kvstore1 N: a fresh single-node kvstore network under load, txs of SIZE bytes.
kvstore1() {
  local home="$OUT/kv-$1"
  "$CMT" init --home "$home" >/dev/null 2>&1
  kvstore_config "$home" 29756 29757
  "$CMT" start --home "$home" --proxy_app=persistent_kvstore >"$home.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_rpc 127.0.0.1:29757; sleep 2
  bin/tabella -o json bench kvstore --rpcs 127.0.0.1:29757 --tx-size "$SIZE" --txs 1200000 --duration "$DUR" \
    --concurrency 512 --pid "$pid" --data-dir "$home/data" >"$OUT/kvstore-1-$1.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for round in $(seq "$ROUNDS"); do
  echo "== single node, round $round of $ROUNDS: Tabella"
  tabella1 "$round"
  # kvstore's txs take the size of Tabella's ballots.
  SIZE=${SIZE:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx_bytes"])' "$OUT/tabella-1-1.json")}
  echo "== single node, round $round of $ROUNDS: kvstore ($SIZE-byte txs)"
  kvstore1 "$round"
done

echo "== single node: Tabella, sealed 5-option ballots ($SEALED_VOTERS encrypted beforehand)"
# A fresh dev network on the same ports: its home holds the four parties'
# admin keys, so the bench plays every trustee in the key ceremony. With
# each ballot waiting for its block, 512 in flight cap the rate near 1,000/s
# at half a second of latency; 2048 leave the limit to the node's CPU.
bin/tabellad dev --home "$OUT/dev-sealed" --block-time "$BT" --grpc 127.0.0.1:29090 --rpc tcp://127.0.0.1:29657 --p2p tcp://127.0.0.1:29656 >"$OUT/dev-sealed.log" 2>&1 &
pid=$!; pids+=("$pid")
wait_grpc 127.0.0.1:29090 "$OUT/dev-sealed.log"; sleep 2
bin/tabella --home "$OUT/dev-sealed" --node 127.0.0.1:29090 -o json bench --secrecy sealed --options 5 --selections 1 \
  --voters "$SEALED_VOTERS" --duration "$DUR" --concurrency 2048 --pid "$pid" --data-dir "$OUT/dev-sealed/data" >"$OUT/tabella-sealed-1.json"
kill "$pid"; wait "$pid" 2>/dev/null || true

# The two four-validator networks share two cores with the load generator.
python3 - "$OUT/parties.yaml" <<'PY'
import sys, re
src = open("testnet/parties.yaml").read()
open(sys.argv[1], "w").write(re.sub(r"\nobservers:.*", "\n", src, flags=re.S))
PY

# tabella4 ROUND: a fresh four-validator Tabella network, loaded for DUR.
tabella4() {
  bin/tabellad testnet --parties "$OUT/parties.yaml" --output "$OUT/net-$1" --base-port 28100 --block-time "$BT" >/dev/null
  tpids=()
  for n in city-council regional-office residents-union open-vote-watch; do
    bin/tabellad start --home "$OUT/net-$1/$n" >"$OUT/net-$1/$n.log" 2>&1 &
    tpids+=("$!"); pids+=("$!")
  done
  names=(city-council regional-office residents-union open-vote-watch)
  for i in 0 1 2 3; do wait_grpc "127.0.0.1:$((28102 + 10 * i))" "$OUT/net-$1/${names[$i]}.log"; done; sleep 3
  bin/tabella --home "$OUT/net-$1" -o json bench --nodes 127.0.0.1:28102,127.0.0.1:28112,127.0.0.1:28122,127.0.0.1:28132 \
    --rpc 127.0.0.1:28101 --organiser citizen-services --organiser-key citizen-services \
    --issuer population-registry --issuer-key population-registry --voters 400000 --duration "$DUR" \
    --concurrency 4096 $(printf -- '--pid %s ' "${tpids[@]}") --data-dir "$OUT/net-$1/city-council/data" >"$OUT/tabella-4-$1.json"
  for p in "${tpids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
}

# kvstore4 ROUND: the same with kvstore, on the same CometBFT settings.
kvstore4() {
  "$CMT" testnet --v 4 --o "$OUT/kvnet-$1" --populate-persistent-peers=false >/dev/null
  peers=""
  for i in 0 1 2 3; do
    id=$("$CMT" show-node-id --home "$OUT/kvnet-$1/node$i")
    peers="$peers${peers:+,}$id@127.0.0.1:$((28300 + 10 * i))"
  done
  kpids=()
  for i in 0 1 2 3; do
    h="$OUT/kvnet-$1/node$i"
    kvstore_config "$h" $((28300 + 10 * i)) $((28301 + 10 * i))
    # What tabellad testnet sets beyond the dev node: Prometheus metrics on a
    # loopback port (CometBFT counts every p2p message and mempool tx in them)
    # and empty blocks at most every 5 s.
    sed -i -e "s|^persistent_peers = .*|persistent_peers = \"$peers\"|" \
           -e 's|^prometheus = false|prometheus = true|' \
           -e "s|^prometheus_listen_addr = .*|prometheus_listen_addr = \"127.0.0.1:$((28303 + 10 * i))\"|" \
           -e 's|^create_empty_blocks_interval = .*|create_empty_blocks_interval = "5s"|' "$h/config/config.toml"
    "$CMT" start --home "$h" --proxy_app=persistent_kvstore >"$h.log" 2>&1 &
    kpids+=("$!"); pids+=("$!")
  done
  for i in 0 1 2 3; do wait_rpc "127.0.0.1:$((28301 + 10 * i))"; done; sleep 3
  bin/tabella -o json bench kvstore --rpcs 127.0.0.1:28301,127.0.0.1:28311,127.0.0.1:28321,127.0.0.1:28331 \
    --tx-size "$SIZE" --txs 1200000 --duration "$DUR" --concurrency 512 $(printf -- '--pid %s ' "${kpids[@]}") \
    --data-dir "$OUT/kvnet-$1/node0/data" >"$OUT/kvstore-4-$1.json"
  for p in "${kpids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
}

for round in $(seq "$ROUNDS"); do
  echo "== four validators, round $round of $ROUNDS: Tabella"
  tabella4 "$round"
  echo "== four validators, round $round of $ROUNDS: kvstore"
  kvstore4 "$round"
done

python3 scripts/bench_report.py "$OUT" docs/performance.md "$DUR" "$BT"
echo "== wrote docs/performance.md"
