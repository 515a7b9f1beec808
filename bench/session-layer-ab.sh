#!/usr/bin/env bash
# One side of an A/B run: a fresh 3-server `zablab cluster` from binary BIN on BASEPORT, then
# `zablab bench --op OP --secs 5 --inflight 64` through its second server; prints the bench's
# "ops/s" line and stops the cluster with SIGTERM. Run it alternately with two binaries.
# usage: bench/session-layer-ab.sh BIN BASEPORT OP    (after cargo build --release -p zablab-node)
set -euo pipefail
BIN=$1; BASE=$2; OP=$3
DIR=$(mktemp -d /tmp/zb-XXXX)
"$BIN" cluster --size 3 --dir "$DIR" --base-port "$BASE" > "$DIR/cluster.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q "ready" "$DIR/cluster.log" && break; sleep 0.2; done
timeout 60 ./target/release/zablab bench --hosts "127.0.0.1:$((BASE + 1))" --op "$OP" --secs 5 \
  --inflight 64 2>&1 | grep -i "ops/s" | head -1
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"
