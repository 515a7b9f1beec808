#!/usr/bin/env bash
# Side-by-side benchmark: a 3-server Apache ZooKeeper 3.8 ensemble and a 3-server ZabLab
# ensemble on loopback, with the same zoo.cfg settings (fsync on, tickTime=2000), measured by
# the same load generator (`zablab bench`, ZooKeeper's wire protocol) one after the other:
# writes and reads through a follower, failover (kill -9 of the leader until the next write
# is accepted, median of --runs), and the RSS of each server after the load. Writes the table,
# with ratios, into BENCHMARKS.md between the "compare:begin/end" markers.
#
# Usage: bench/compare.sh [--secs 10] [--inflight 64] [--size 100] [--runs 5]
#
# Needs bash, coreutils, awk and cargo; installs Debian's `zookeeper` package when ZooKeeper
# is missing. Server roles are read with `zablab status` (the `srvr` four-letter word), so no
# netcat. The phases run in order and the first one that fails stops the script with its name
# and a message (exit 1; the servers' logs are kept and their directory printed); BENCHMARKS.md
# is written only after every phase measured every figure of the table.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PHASE="arguments"
die() { echo "bench/compare.sh: $PHASE: $*" >&2; exit 1; }
trap 'echo "bench/compare.sh: $PHASE: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR
phase() { PHASE=$1; echo "== $PHASE" >&2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

SECS=10; INFLIGHT=64; SIZE=100; RUNS=5
usage() { echo "usage: bench/compare.sh [--secs 10] [--inflight 64] [--size 100] [--runs 5]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --secs|--inflight|--size|--runs) [ $# -ge 2 ] || usage;;&
    --secs) SECS=$2; shift 2;;
    --inflight) INFLIGHT=$2; shift 2;;
    --size) SIZE=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    -h|--help) usage;;
    *) echo "bench/compare.sh: unknown argument $1" >&2; usage;;
  esac
done
if ! { is_num "$SECS" && is_uint "$INFLIGHT" && is_uint "$SIZE" && is_uint "$RUNS" \
  && [ "$INFLIGHT" -ge 1 ] && [ "$RUNS" -ge 1 ]; }; then
  usage
fi

# The two ensembles' ports: client BASE+1..3, quorum BASE+701..703, election BASE+1701..1703.
ZK_BASE=31000; ZL_BASE=33000
QUORUM_WAIT_MS=60000      # JVM start to leader is about 3 s on an idle machine
FAILOVER_WAIT_MS=30000    # per kill: no accepted write by then fails the phase

# ----- preflight: every port free, ZooKeeper installed, zablab built ------------------------
phase "preflight"
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for base in $ZK_BASE $ZL_BASE; do
  for off in 1 2 3 701 702 703 1701 1702 1703; do
    if port_open $((base + off)); then
      die "127.0.0.1:$((base + off)) is already in use (a server left running?); nothing measured"
    fi
  done
done

ZK_CP=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
if [ ! -f /usr/share/java/zookeeper.jar ] || [ ! -f /usr/share/java/slf4j-simple.jar ] \
  || ! command -v java >/dev/null; then
  phase "install ZooKeeper (apt-get install zookeeper)"
  [ "$(id -u)" = 0 ] || die "ZooKeeper 3.8 is not installed and this is not root: run apt-get install -y zookeeper"
  (apt-get update && apt-get install -y zookeeper libslf4j-java) \
    || (sleep 5 && apt-get update && apt-get install -y zookeeper libslf4j-java) \
    || die "apt-get install zookeeper failed"
  [ -f /usr/share/java/zookeeper.jar ] || die "no /usr/share/java/zookeeper.jar after installing zookeeper"
  [ -f /usr/share/java/slf4j-simple.jar ] || die "no /usr/share/java/slf4j-simple.jar after installing libslf4j-java"
  command -v java >/dev/null || die "no java on PATH after installing zookeeper"
fi

phase "build zablab (cargo build --release -p zablab-node)"
cargo build --release -q -p zablab-node || die "cargo build failed"
ZABLAB="$ROOT/target/release/zablab"
[ -x "$ZABLAB" ] || die "no $ZABLAB after the build"

WORK=$(mktemp -d /tmp/zablab-compare.XXXXXX)
declare -A PID          # PID[zk1] .. PID[zl3]: the server running now
ALL_PIDS=()             # every server ever started (restarts included), for the exit trap
gone() { # PID: until the process is gone (bash reaps disowned children too), at most 5 s
  local _
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
}
cleanup() {
  local rc=$?
  for p in "${ALL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${ALL_PIDS[@]}"; do gone "$p"; done
  if [ "$rc" != 0 ] && compgen -G "$WORK/*/*/log" >/dev/null; then
    local keep="$WORK-logs" f
    mkdir -p "$keep"
    for f in "$WORK"/*/*/log; do
      cp "$f" "$keep/$(basename "$(dirname "$(dirname "$f")")")$(basename "$(dirname "$f")").log"
    done
    echo "bench/compare.sh: server logs kept in $keep" >&2
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
    java -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >> "$dir/log" 2>&1 &
  else
    "$ZABLAB" server "$dir/zoo.cfg" >> "$dir/log" 2>&1 &
  fi
  PID[$sys$n]=$!
  ALL_PIDS+=("$!")
  disown "$!"   # no "Killed" job report on stderr when a server is killed on purpose
}

stop_server() { # SYSTEM N
  local p=${PID[$1$2]}
  kill -9 "$p" 2>/dev/null || true
  gone "$p"
  unset "PID[$1$2]"
}

log_excerpt() { # SYSTEM N: a server's first error lines (or its last lines), for a message
  local f="$WORK/$1/$2/log" err
  err=$(grep -m 3 -E 'Exception|ERROR|^zablab: ' "$f" 2>/dev/null || true)
  if [ -n "$err" ]; then echo "$err"; else tail -n 5 "$f" 2>/dev/null || true; fi
}

log_tails() { # SYSTEM: log_excerpt of each server
  local n
  for n in 1 2 3; do
    echo "--- $1 server $n ($WORK/$1/$n/log):"
    log_excerpt "$1" "$n"
  done
}

now_ms() { date +%s%3N; }

# read_modes BASE: MODE[1..3] = leader|follower|"" (not serving or down), from one
# `zablab status` call (it sends `srvr` to each server; it exits 1 while some are down).
MODE=()
read_modes() {
  local base=$1 n out
  out=$("$ZABLAB" status "127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))" 2>/dev/null) || true
  for n in 1 2 3; do
    MODE[n]=$(printf '%s\n' "$out" | awk -F'\t' -v h="127.0.0.1:$((base + n))" \
      '$1 == h && $2 ~ /^mode=/ { sub(/^mode=/, "", $2); print $2 }')
  done
}

# wait_quorum SYSTEM BASE: until one leader and two followers; sets LEADER and FOLLOWER (the
# first follower). Fails when a server process exits or the wait runs out.
wait_quorum() {
  local sys=$1 base=$2 deadline n leaders followers
  deadline=$(( $(now_ms) + QUORUM_WAIT_MS ))
  while :; do
    for n in 1 2 3; do
      kill -0 "${PID[$sys$n]}" 2>/dev/null \
        || die "$sys server $n (client port $((base + n))) exited; its log says:
$(log_excerpt "$sys" "$n")"
    done
    read_modes "$base"
    leaders=0; followers=0; LEADER=""; FOLLOWER=""
    for n in 1 2 3; do
      case "${MODE[n]}" in
        leader) leaders=$((leaders + 1)); LEADER=$n;;
        follower) followers=$((followers + 1)); [ -n "$FOLLOWER" ] || FOLLOWER=$n;;
      esac
    done
    if [ "$leaders" = 1 ] && [ "$followers" = 2 ]; then return 0; fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      die "no quorum on client ports $((base + 1))-$((base + 3)) after $((QUORUM_WAIT_MS / 1000)) s (modes: ${MODE[1]:-none} ${MODE[2]:-none} ${MODE[3]:-none})
$(log_tails "$sys")"
    fi
    sleep 0.1
  done
}

# bench_op HOST OP: sets OPS P50 P99 from `zablab bench`'s last line; fails on any error.
bench_op() {
  local host=$1 op=$2 out last counts
  out=$("$ZABLAB" bench --hosts "$host" --op "$op" --inflight "$INFLIGHT" --secs "$SECS" --size "$SIZE" 2>&1) \
    || die "zablab bench --op $op against $host failed: $out"
  counts=$(printf '%s\n' "$out" | grep '^ops: ' || true)
  last=$(printf '%s\n' "$out" | tail -n 1)
  [[ $counts =~ ^ops:\ ([0-9]+)\ errors:\ ([0-9]+) ]] || die "zablab bench --op $op printed no counts: $out"
  [ "${BASH_REMATCH[1]}" -gt 0 ] || die "zablab bench --op $op completed no request: $out"
  [ "${BASH_REMATCH[2]}" = 0 ] || die "zablab bench --op $op had ${BASH_REMATCH[2]} failed requests: $out"
  [[ $last =~ ^ops/s:\ ([0-9.]+)\ p50_us:\ ([0-9]+)\ p99_us:\ ([0-9]+)\ p999_us:\ ([0-9]+)$ ]] \
    || die "zablab bench --op $op: unexpected last line: $last"
  OPS=${BASH_REMATCH[1]}; P50=${BASH_REMATCH[2]}; P99=${BASH_REMATCH[3]}
  echo "   $op: $last" >&2
}

# failover SYSTEM BASE: sets FAIL_MS to the median over RUNS kills of the leader, each timed
# from kill -9 until a create through the two survivors is accepted.
failover() {
  local sys=$1 base=$2 run n others t0 deadline accepted times=()
  for run in $(seq 1 "$RUNS"); do
    wait_quorum "$sys" "$base"
    others=""
    for n in 1 2 3; do [ "$n" = "$LEADER" ] || others="$others,127.0.0.1:$((base + n))"; done
    others=${others#,}
    kill -9 "${PID[$sys$LEADER]}"
    t0=$(now_ms)
    deadline=$(( t0 + FAILOVER_WAIT_MS ))
    accepted=""
    while [ "$(now_ms)" -lt "$deadline" ]; do
      if "$ZABLAB" cli -server "$others" create "/failover-$sys-$run-$(now_ms)" x >/dev/null 2>&1; then
        accepted=$(( $(now_ms) - t0 )); break
      fi
      sleep 0.01
    done
    [ -n "$accepted" ] || die "run $run: no write accepted by $others within $((FAILOVER_WAIT_MS / 1000)) s of killing leader $LEADER
$(log_tails "$sys")"
    echo "   run $run: killed server $LEADER, next write accepted after $accepted ms" >&2
    times+=("$accepted")
    stop_server "$sys" "$LEADER"
    start_server "$sys" "$LEADER"
  done
  FAIL_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
}

rss_mb() { # SYSTEM: sets RSS to "a/b/c", the MB of the three servers
  local n kb out=""
  for n in 1 2 3; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${PID[$1$n]}/status" 2>/dev/null || true)
    is_uint "$kb" || die "no VmRSS for $1 server $n (pid ${PID[$1$n]}): did it exit?"
    out="$out/$((kb / 1024))"
  done
  RSS=${out#/}
}

# measure SYSTEM BASE NAME: every figure of SYSTEM's column into R[SYSTEM.*] (no subshell, so
# a failed phase stops the script and the PIDs stay known to the exit trap).
declare -A R
measure() {
  local sys=$1 base=$2 name=$3 n host op
  phase "$name: start 3 servers (client ports $((base + 1))-$((base + 3)))"
  for n in 1 2 3; do write_cfg "$sys" "$n" "$base"; start_server "$sys" "$n"; done
  wait_quorum "$sys" "$base"
  host="127.0.0.1:$((base + FOLLOWER))"
  echo "   leader: server $LEADER; load through follower $host" >&2
  for op in set get create; do
    phase "$name: $op for $SECS s through a follower"
    bench_op "$host" "$op"
    R[$sys.$op.ops]=$OPS; R[$sys.$op.p50]=$P50; R[$sys.$op.p99]=$P99
  done
  phase "$name: RSS after load"
  rss_mb "$sys"
  R[$sys.rss]=$RSS
  echo "   $RSS MB" >&2
  phase "$name: failover ($RUNS kill -9 of the leader)"
  failover "$sys" "$base"
  R[$sys.fail]=$FAIL_MS
  phase "$name: stop"
  for n in 1 2 3; do stop_server "$sys" "$n"; done
}

measure zk $ZK_BASE "Apache ZooKeeper 3.8"
measure zl $ZL_BASE "ZabLab"

# ----- the table: only figures measured above ------------------------------------------------
phase "write BENCHMARKS.md"
for sys in zk zl; do
  for k in set.ops set.p99 get.ops get.p99 create.ops create.p50 create.p99 fail; do
    is_num "${R[$sys.$k]:-}" || die "$sys $k was not measured (got '${R[$sys.$k]:-}'); BENCHMARKS.md unchanged"
  done
  [[ ${R[$sys.rss]:-} =~ ^[0-9]+/[0-9]+/[0-9]+$ ]] || die "$sys RSS was not measured; BENCHMARKS.md unchanged"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
sum_rss() { echo "$1" | tr / '\n' | awk '{s+=$1} END {print s}'; }
row() { # LABEL KEY GOAL
  echo "| $1 | ${R[zk.$2]} | ${R[zl.$2]} | $(ratio "${R[zl.$2]}" "${R[zk.$2]}")× | $3 |"
}

TABLE="$WORK/table.md"
{
  echo "<!-- compare:begin -->"
  echo "Measured $(date -u +%Y-%m-%d) by \`bench/compare.sh --secs $SECS --inflight $INFLIGHT --size $SIZE --runs $RUNS\`:"
  echo "3 servers each on 127.0.0.1, same zoo.cfg (tickTime=2000, initLimit=10, syncLimit=5, fsync on),"
  echo "load from \`zablab bench\` through a follower, $INFLIGHT requests in flight, $SIZE-byte values."
  echo
  echo "| metric | Apache ZooKeeper 3.8 | ZabLab | ZabLab / ZooKeeper | goal |"
  echo "|---|---|---|---|---|"
  row "setData ops/s" set.ops "≥ 2×"
  row "setData p99 (µs)" set.p99 "≤ ½"
  row "getData ops/s" get.ops "≥ 2×"
  row "getData p99 (µs)" get.p99 "≤ ½"
  row "create ops/s" create.ops ""
  echo "| create p50 / p99 (µs) | ${R[zk.create.p50]} / ${R[zk.create.p99]} | ${R[zl.create.p50]} / ${R[zl.create.p99]} | $(ratio "${R[zl.create.p99]}" "${R[zk.create.p99]}")× (p99) | ≤ ½ |"
  row "failover, kill -9 leader → next write (median ms of $RUNS)" fail "≤ ½"
  echo "| RSS after load, per server (MB) | ${R[zk.rss]} | ${R[zl.rss]} | $(ratio "$(sum_rss "${R[zl.rss]}")" "$(sum_rss "${R[zk.rss]}")")× | ≤ 1/10 |"
  echo "<!-- compare:end -->"
} > "$TABLE"
cat "$TABLE"

# Replace the marked block (or append a section), through a temporary file and a rename, so
# BENCHMARKS.md is never left half written.
OUT="$ROOT/BENCHMARKS.md"
[ -f "$OUT" ] || printf '# ZabLab benchmarks\n' > "$OUT"
NEW="$OUT.compare.tmp"
if grep -q '^<!-- compare:begin -->$' "$OUT"; then
  grep -q '^<!-- compare:end -->$' "$OUT" || die "BENCHMARKS.md has compare:begin but no compare:end"
  awk -v table="$TABLE" '
    /^<!-- compare:begin -->$/ { while ((getline l < table) > 0) print l; skip = 1; next }
    /^<!-- compare:end -->$/ { skip = 0; next }
    !skip { print }' "$OUT" > "$NEW"
else
  { cat "$OUT"; printf '\n## ZabLab vs Apache ZooKeeper 3.8 (same machine, one run)\n\n'; cat "$TABLE"; } > "$NEW"
fi
mv "$NEW" "$OUT"
echo "bench/compare.sh: table written to BENCHMARKS.md" >&2
