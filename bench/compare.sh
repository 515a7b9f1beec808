#!/usr/bin/env bash
# Side-by-side benchmark: a 3-server Apache ZooKeeper 3.8 ensemble and a 3-server ZabLab
# ensemble on loopback, with the same zoo.cfg settings (fsync on, tickTime=2000), measured by
# the same load generator (`zablab bench`, ZooKeeper's wire protocol) one after the other:
# writes and reads through a follower, failover (kill -9 of the leader until the next write
# is accepted, median of 5), and the RSS of each server after the load. Writes the table,
# with ratios, into BENCHMARKS.md between the "compare:begin/end" markers.
#
# Usage: bench/compare.sh [--secs 10] [--inflight 64] [--size 100] [--runs 5]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECS=10; INFLIGHT=64; SIZE=100; RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) SECS=$2; shift 2;;
    --inflight) INFLIGHT=$2; shift 2;;
    --size) SIZE=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done

if [ ! -f /usr/share/java/zookeeper.jar ]; then
  apt-get update && apt-get install -y zookeeper zookeeper-bin netcat-openbsd
fi
cargo build --release -q -p zablab-node
ZABLAB="$ROOT/target/release/zablab"
ZK_CP=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar

WORK=$(mktemp -d /tmp/zablab-compare.XXXXXX)
declare -A PID
# Every server started is listed in $WORK/pids (measure() runs in a subshell, so the PID
# array alone would not reach this trap).
cleanup() {
  if [ -f "$WORK/pids" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# write_cfg SYSTEM N BASE: dataDir, myid and zoo.cfg for server N (client port BASE+N).
write_cfg() {
  local sys=$1 n=$2 base=$3 dir="$WORK/$1/$2"
  mkdir -p "$dir/data"
  echo "$n" > "$dir/data/myid"
  cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$((base + n))
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
server.1=127.0.0.1:$((base + 700 + 1)):$((base + 1700 + 1))
server.2=127.0.0.1:$((base + 700 + 2)):$((base + 1700 + 2))
server.3=127.0.0.1:$((base + 700 + 3)):$((base + 1700 + 3))
CFG
}

start_server() { # SYSTEM N
  local sys=$1 n=$2 dir="$WORK/$1/$2"
  if [ "$sys" = zk ]; then
    java -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/log" 2>&1 &
  else
    "$ZABLAB" server "$dir/zoo.cfg" > "$dir/log" 2>&1 &
  fi
  PID[$sys$n]=$!
  echo "$!" >> "$WORK/pids"
}

mode_of() { # PORT -> leader|follower|""
  (echo srvr | nc -N -w 1 127.0.0.1 "$1" 2>/dev/null || true) | sed -n 's/^Mode: //p'
}

now_ms() { date +%s%3N; }

wait_quorum() { # BASE: until one leader and two followers
  local base=$1 deadline=$(( $(now_ms) + 60000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    local modes=""
    for n in 1 2 3; do modes="$modes $(mode_of $((base + n)))"; done
    if [ "$(echo "$modes" | grep -o leader | wc -l)" = 1 ] && [ "$(echo "$modes" | grep -o follower | wc -l)" = 2 ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "no quorum on base port $base" >&2; return 1
}

port_with_mode() { # BASE MODE
  for n in 1 2 3; do
    if [ "$(mode_of $(($1 + n)))" = "$2" ]; then echo "$n"; return; fi
  done
}

bench() { # HOST OP -> "ops p50 p99 p999"
  "$ZABLAB" bench --hosts "$1" --op "$2" --inflight "$INFLIGHT" --secs "$SECS" --size "$SIZE" \
    | tail -n 1 | sed -E 's/ops\/s: ([0-9.]+) p50_us: ([0-9.]+) p99_us: ([0-9.]+) p999_us: ([0-9.]+).*/\1 \2 \3 \4/'
}

failover() { # SYSTEM BASE: sets FAIL_MS to the median ms over RUNS kills (no subshell, so the
  # restarted servers' PIDs stay known)
  local sys=$1 base=$2 times=()
  for run in $(seq 1 "$RUNS"); do
    wait_quorum "$base"
    local l; l=$(port_with_mode "$base" leader)
    local others=""
    for n in 1 2 3; do [ "$n" != "$l" ] && others="$others,127.0.0.1:$((base + n))"; done
    others=${others#,}
    kill -9 "${PID[$sys$l]}"
    local t0; t0=$(now_ms)
    local deadline=$(( t0 + 30000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
      if "$ZABLAB" cli -server "$others" create "/failover-$sys-$run-$(now_ms)" x >/dev/null 2>&1; then break; fi
      sleep 0.01
    done
    times+=( $(( $(now_ms) - t0 )) )
    start_server "$sys" "$l"
  done
  FAIL_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
}

rss_mb() { # SYSTEM -> "a/b/c" MB of the three servers
  local out=""
  for n in 1 2 3; do
    local kb; kb=$(awk '/VmRSS/ {print $2}' "/proc/${PID[$1$n]}/status" 2>/dev/null || echo 0)
    out="$out/$((kb / 1024))"
  done
  echo "${out#/}"
}

measure() { # SYSTEM BASE
  local sys=$1 base=$2
  for n in 1 2 3; do write_cfg "$sys" "$n" "$base"; start_server "$sys" "$n"; done
  wait_quorum "$base"
  local f; f=$(port_with_mode "$base" follower)
  local host="127.0.0.1:$((base + f))"
  "$ZABLAB" cli -server "$host" create /bench x >/dev/null 2>&1 || true
  read -r W_OPS W_P50 W_P99 W_P999 <<<"$(bench "$host" set)"
  read -r R_OPS R_P50 R_P99 R_P999 <<<"$(bench "$host" get)"
  read -r C_OPS C_P50 C_P99 C_P999 <<<"$(bench "$host" create)"
  RSS=$(rss_mb "$sys")
  failover "$sys" "$base"
  local FAIL=$FAIL_MS
  for n in 1 2 3; do kill -9 "${PID[$sys$n]}" 2>/dev/null || true; unset "PID[$sys$n]"; done
  echo "$W_OPS $W_P99 $R_OPS $R_P99 $C_OPS $C_P50 $C_P99 $FAIL $RSS"
}

echo "measuring Apache ZooKeeper 3.8 ..." >&2
read -r ZK_W ZK_WP99 ZK_R ZK_RP99 ZK_C ZK_CP50 ZK_CP99 ZK_F ZK_RSS <<<"$(measure zk 31000)"
echo "measuring ZabLab ..." >&2
read -r ZL_W ZL_WP99 ZL_R ZL_RP99 ZL_C ZL_CP50 ZL_CP99 ZL_F ZL_RSS <<<"$(measure zl 33000)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
sum_rss() { echo "$1" | tr / '\n' | awk '{s+=$1} END {print s}'; }

TABLE=$(cat <<TBL
<!-- compare:begin -->
Measured $(date -u +%Y-%m-%d) by \`bench/compare.sh --secs $SECS --inflight $INFLIGHT --size $SIZE --runs $RUNS\`:
3 servers each on 127.0.0.1, same zoo.cfg (tickTime=2000, initLimit=10, syncLimit=5, fsync on),
load from \`zablab bench\` through a follower, $INFLIGHT requests in flight, $SIZE-byte values.

| metric | Apache ZooKeeper 3.8 | ZabLab | ZabLab / ZooKeeper | goal |
|---|---|---|---|---|
| setData ops/s | $ZK_W | $ZL_W | $(ratio "$ZL_W" "$ZK_W")× | ≥ 2× |
| setData p99 (µs) | $ZK_WP99 | $ZL_WP99 | $(ratio "$ZL_WP99" "$ZK_WP99")× | ≤ ½ |
| getData ops/s | $ZK_R | $ZL_R | $(ratio "$ZL_R" "$ZK_R")× | ≥ 2× |
| getData p99 (µs) | $ZK_RP99 | $ZL_RP99 | $(ratio "$ZL_RP99" "$ZK_RP99")× | ≤ ½ |
| create ops/s | $ZK_C | $ZL_C | $(ratio "$ZL_C" "$ZK_C")× | |
| create p50 / p99 (µs) | $ZK_CP50 / $ZK_CP99 | $ZL_CP50 / $ZL_CP99 | $(ratio "$ZL_CP99" "$ZK_CP99")× (p99) | ≤ ½ |
| failover, kill -9 leader → next write (median ms) | $ZK_F | $ZL_F | $(ratio "$ZL_F" "$ZK_F")× | ≤ ½ |
| RSS after load, per server (MB) | $ZK_RSS | $ZL_RSS | $(ratio "$(sum_rss "$ZL_RSS")" "$(sum_rss "$ZK_RSS")")× | ≤ 1/10 |
<!-- compare:end -->
TBL
)
echo "$TABLE"
python3 - "$ROOT/BENCHMARKS.md" "$TABLE" <<'PY'
import sys, re
path, table = sys.argv[1], sys.argv[2]
text = open(path).read() if __import__('os').path.exists(path) else "# ZabLab benchmarks\n"
if "<!-- compare:begin -->" in text:
    text = re.sub(r"<!-- compare:begin -->.*?<!-- compare:end -->", lambda m: table, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## ZabLab vs Apache ZooKeeper 3.8 (same machine, one run)\n\n" + table + "\n"
open(path, "w").write(text)
PY
