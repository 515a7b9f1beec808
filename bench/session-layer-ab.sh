#!/bin/bash
# usage: benchone.sh BIN BASEPORT OP -> prints "ops/s" line of zablab bench against a fresh 3-server cluster
BIN=$1; BASE=$2; OP=$3
DIR=$(mktemp -d /tmp/zb-XXXX)
$BIN cluster --size 3 --dir $DIR --base-port $BASE > $DIR/cluster.log 2>&1 &
PID=$!
for i in $(seq 1 100); do grep -q "ready" $DIR/cluster.log && break; sleep 0.2; done
F=$((BASE+1))
timeout 60 ./target/release/zablab bench --hosts 127.0.0.1:$F --op $OP --secs 5 --inflight 64 2>&1 | grep -i "ops/s" | head -1
kill -TERM $PID; wait $PID 2>/dev/null; rm -rf $DIR
