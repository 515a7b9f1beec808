#!/usr/bin/env bash
# Side-by-side benchmark: Apache ZooKeeper 3.8 ensembles and ZabLab ensembles on loopback, with
# the same zoo.cfg settings (fsync on, tickTime=2000), measured by the same load generator
# (`zablab bench`, ZooKeeper's wire protocol) one after the other.
#
# The table (--only table): writes and reads through a follower of 3 servers, failover (kill -9
# of the leader until the next write is accepted, median of --runs), and the RSS of each server
# after the load; written with ratios into BENCHMARKS.md between "compare:begin/end".
# The curves (--only curves), each a table and an SVG made by `zablab bench-plot` from the JSON
# of `zablab bench --json`, both systems side by side:
#   curve-read-ratio  throughput against the share of reads (0 25 50 75 90 100 %), 3 and 5
#                     servers, 15 sessions × 4 in flight spread over every server;
#   curve-open-loop   latency p50/p99/p99.9 against offered load (open loop: requests due on a
#                     schedule, latency from when each was due), setData on 3 servers, the rate
#                     doubled from 500/s until the system falls behind it (saturation; at most
#                     10 points);
#   curve-sessions    setData throughput and p99 with 1, 10, 100 and 1000 sessions, one request
#                     in flight each, spread over 3 servers.
# The znode scale (--only scale), 3 servers, for 10k, 100k and 1M znodes of --size bytes:
#   scale-znodes      RSS per server, restart time (kill -9 of every server → a leader and 2
#                     followers serving), a wiped follower's time to rejoin (dataDir emptied but
#                     myid → following again at the leader's zxid, i.e. a SNAP) and the size of
#                     the snapshot file it wrote, and failover (kill -9 of the leader → next write accepted,
#                     median and p90 over --scale-runs kills, default 10).
# The tables go into BENCHMARKS.md between "NAME:begin/end", the plots into bench/plots/.
# --quick: a smoke run (1 s per point, few points, 1 failover run) that writes its tables and
# plots into --out (default target/compare-quick) and leaves BENCHMARKS.md alone.
#
# Usage: bench/compare.sh [--only all|table|curves|scale] [--quick] [--out DIR]
#                         [--secs 10] [--inflight 64] [--size 100] [--runs 5] [--scale-runs 10]
#
# Needs bash, coreutils, awk and cargo; installs Debian's `zookeeper` package when ZooKeeper
# is missing. Server roles are read with `zablab status` (the `srvr` four-letter word), so no
# netcat. The phases run in order and the first one that fails stops the script with its name
# and a message (exit 1; the servers' logs are kept and their directory printed); BENCHMARKS.md
# is written only after every phase measured every figure of every table it writes.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CMDLINE="bench/compare.sh${*:+ $*}"

PHASE="arguments"
die() { echo "bench/compare.sh: $PHASE: $*" >&2; exit 1; }
trap 'echo "bench/compare.sh: $PHASE: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR
phase() { PHASE=$1; echo "== $PHASE" >&2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

SECS=""; INFLIGHT=64; SIZE=100; RUNS=""; ONLY=all; QUICK=0; OUT_DIR=""; SCALE_RUNS=""
usage() {
  echo "usage: bench/compare.sh [--only all|table|curves|scale] [--quick] [--out DIR] [--secs 10] [--inflight 64] [--size 100] [--runs 5] [--scale-runs 10]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --secs|--inflight|--size|--runs|--scale-runs|--only|--out) [ $# -ge 2 ] || usage;;&
    --secs) SECS=$2; shift 2;;
    --inflight) INFLIGHT=$2; shift 2;;
    --size) SIZE=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --scale-runs) SCALE_RUNS=$2; shift 2;;
    --only) ONLY=$2; shift 2;;
    --out) OUT_DIR=$2; shift 2;;
    --quick) QUICK=1; shift;;
    -h|--help) usage;;
    *) echo "bench/compare.sh: unknown argument $1" >&2; usage;;
  esac
done
if [ "$QUICK" = 1 ]; then
  SECS=${SECS:-1}; RUNS=${RUNS:-1}
  READ_PCTS="0 50 100"; CURVE_SERVERS="3 5"; RATE_STEPS=3; RATE_FACTOR=4; SESSION_COUNTS="1 10 100"
  ZNODE_COUNTS="2000"; SCALE_RUNS=${SCALE_RUNS:-1}
  OUT_DIR=${OUT_DIR:-$ROOT/target/compare-quick}
else
  SECS=${SECS:-10}; RUNS=${RUNS:-5}
  READ_PCTS="0 25 50 75 90 100"; CURVE_SERVERS="3 5"; RATE_STEPS=10; RATE_FACTOR=2; SESSION_COUNTS="1 10 100 1000"
  ZNODE_COUNTS="10000 100000 1000000"; SCALE_RUNS=${SCALE_RUNS:-10}
fi
if ! { is_num "$SECS" && is_uint "$INFLIGHT" && is_uint "$SIZE" && is_uint "$RUNS" \
  && is_uint "$SCALE_RUNS" && [ "$INFLIGHT" -ge 1 ] && [ "$RUNS" -ge 1 ] && [ "$SCALE_RUNS" -ge 1 ]; }; then
  usage
fi
case "$ONLY" in all|table|curves|scale) ;; *) echo "bench/compare.sh: --only all, table, curves or scale" >&2; usage;; esac
DO_TABLE=0; DO_CURVES=0; DO_SCALE=0
case "$ONLY" in all|table) DO_TABLE=1;; esac
case "$ONLY" in all|curves) DO_CURVES=1;; esac
case "$ONLY" in all|scale) DO_SCALE=1;; esac

# The curves' load (see the header); the open-loop ladder starts at RATE_START and doubles.
CURVE_SESSIONS=15; CURVE_INFLIGHT=4
OPEN_SESSIONS=15; OPEN_INFLIGHT=64; RATE_START=500
CURVE_ZNODES=100   # znodes preloaded for every curve point (setData and getData spread over them)

# An ensemble is named by its system and size: zk3 zl3 zk5 zl5. Its ports: client BASE+1..N,
# quorum BASE+701..70N, election BASE+1701..170N, all below Linux's ephemeral range (32768 up):
# there, a client connection of an earlier phase (1000 sessions) can hold the port a later
# ensemble must bind ("cannot bind quorum port ...: Address already in use").
declare -A BASE=([zk3]=22000 [zl3]=24000 [zk5]=26000 [zl5]=28000)
declare -A SYSTEM_NAME=([zk]="ZooKeeper 3.8" [zl]="ZabLab")
QUORUM_WAIT_MS=60000      # JVM start to leader is about 3 s on an idle machine
FAILOVER_WAIT_MS=30000    # per kill: no accepted write by then fails the phase
ens_sys() { echo "${1:0:2}"; }
ens_count() { echo "${1:2}"; }
# The ensembles this run starts: the table's and the curves' (3 servers), and 5 servers when a
# curve asks for them.
ENSEMBLES="zk3 zl3"
if [ "$DO_CURVES" = 1 ]; then
  for c in $CURVE_SERVERS; do
    [ "$c" = 3 ] || ENSEMBLES="$ENSEMBLES zk$c zl$c"
  done
fi

# ----- preflight: every port free, ZooKeeper installed, zablab built ------------------------
phase "preflight"
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for ens in $ENSEMBLES; do
  for n in $(seq 1 "$(ens_count "$ens")"); do
    for off in "$n" $((700 + n)) $((1700 + n)); do
      if port_open $((BASE[$ens] + off)); then
        die "127.0.0.1:$((BASE[$ens] + off)) is already in use (a server left running?); nothing measured"
      fi
    done
  done
done

ZK_CP=/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar
zk_missing() {
  local j
  for j in ${ZK_CP//:/ }; do [ -f "$j" ] || { echo "$j"; return 0; }; done
  command -v java >/dev/null || { echo java; return 0; }
  return 1
}
if zk_missing >/dev/null; then
  phase "install ZooKeeper (apt-get install zookeeper)"
  [ "$(id -u)" = 0 ] || die "ZooKeeper 3.8 is not installed ($(zk_missing) missing) and this is not root: run apt-get install -y zookeeper libslf4j-java"
  (apt-get update && apt-get install -y zookeeper libslf4j-java) \
    || (sleep 5 && apt-get update && apt-get install -y zookeeper libslf4j-java) \
    || die "apt-get install zookeeper failed"
  if zk_missing >/dev/null; then die "$(zk_missing) is still missing after installing zookeeper"; fi
fi

phase "build zablab (cargo build --release -p zablab-node)"
cargo build --release -q -p zablab-node || die "cargo build failed"
ZABLAB="$ROOT/target/release/zablab"
[ -x "$ZABLAB" ] || die "no $ZABLAB after the build"

WORK=$(mktemp -d /tmp/zablab-compare.XXXXXX)
declare -A PID          # PID[zk3.1] .. PID[zl5.5]: the server running now
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
      cp "$f" "$keep/$(basename "$(dirname "$(dirname "$f")")").$(basename "$(dirname "$f")").log"
    done
    echo "bench/compare.sh: server logs kept in $keep" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# write_cfg ENS N: dataDir, myid and zoo.cfg for server N of ENS (client port BASE+N).
write_cfg() {
  local ens=$1 n=$2 base=${BASE[$1]} dir="$WORK/$1/$2" m
  mkdir -p "$dir/data"
  echo "$n" > "$dir/data/myid"
  {
    cat <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$((base + n))
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
CFG
    for m in $(seq 1 "$(ens_count "$ens")"); do
      echo "server.$m=127.0.0.1:$((base + 700 + m)):$((base + 1700 + m))"
    done
  } > "$dir/zoo.cfg"
}

start_server() { # ENS N
  local ens=$1 n=$2 dir="$WORK/$1/$2"
  if [ "$(ens_sys "$ens")" = zk ]; then
    java -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >> "$dir/log" 2>&1 &
  else
    "$ZABLAB" server "$dir/zoo.cfg" >> "$dir/log" 2>&1 &
  fi
  PID[$ens.$n]=$!
  ALL_PIDS+=("$!")
  disown "$!"   # no "Killed" job report on stderr when a server is killed on purpose
}

stop_server() { # ENS N
  local p=${PID[$1.$2]}
  kill -9 "$p" 2>/dev/null || true
  gone "$p"
  unset "PID[$1.$2]"
}

log_excerpt() { # ENS N: a server's first error lines (or its last lines), for a message
  local f="$WORK/$1/$2/log" err
  err=$(grep -m 3 -E 'Exception|ERROR|^zablab: ' "$f" 2>/dev/null || true)
  if [ -n "$err" ]; then echo "$err"; else tail -n 5 "$f" 2>/dev/null || true; fi
}

log_tails() { # ENS: log_excerpt of each server
  local n
  for n in $(seq 1 "$(ens_count "$1")"); do
    echo "--- $1 server $n ($WORK/$1/$n/log):"
    log_excerpt "$1" "$n"
  done
}

now_ms() { date +%s%3N; }

hosts_of() { # ENS: every client address, comma-separated
  local n out=""
  for n in $(seq 1 "$(ens_count "$1")"); do out="$out,127.0.0.1:$((BASE[$1] + n))"; done
  echo "${out#,}"
}

# read_modes ENS: MODE[1..N] = leader|follower|"" (not serving or down), from one
# `zablab status` call (it sends `srvr` to each server; it exits 1 while some are down).
MODE=()
read_modes() {
  local ens=$1 n out
  out=$("$ZABLAB" status "$(hosts_of "$ens")" 2>/dev/null) || true
  for n in $(seq 1 "$(ens_count "$ens")"); do
    MODE[n]=$(printf '%s\n' "$out" | awk -F'\t' -v h="127.0.0.1:$((BASE[$ens] + n))" \
      '$1 == h && $2 ~ /^mode=/ { sub(/^mode=/, "", $2); print $2 }')
  done
}

# wait_quorum ENS: until one leader and N-1 followers; sets LEADER and FOLLOWER (the first
# follower). Fails when a server process exits or the wait runs out.
wait_quorum() {
  local ens=$1 count deadline n leaders followers
  count=$(ens_count "$ens")
  deadline=$(( $(now_ms) + QUORUM_WAIT_MS ))
  while :; do
    for n in $(seq 1 "$count"); do
      kill -0 "${PID[$ens.$n]}" 2>/dev/null \
        || die "$ens server $n (client port $((BASE[$ens] + n))) exited; its log says:
$(log_excerpt "$ens" "$n")"
    done
    read_modes "$ens"
    leaders=0; followers=0; LEADER=""; FOLLOWER=""
    for n in $(seq 1 "$count"); do
      case "${MODE[n]}" in
        leader) leaders=$((leaders + 1)); LEADER=$n;;
        follower) followers=$((followers + 1)); [ -n "$FOLLOWER" ] || FOLLOWER=$n;;
      esac
    done
    if [ "$leaders" = 1 ] && [ "$followers" = $((count - 1)) ]; then return 0; fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      die "no quorum on client ports $(hosts_of "$ens") after $((QUORUM_WAIT_MS / 1000)) s (modes: ${MODE[*]:-none})
$(log_tails "$ens")"
    fi
    sleep 0.1
  done
}

start_ensemble() { # ENS
  local ens=$1 n
  phase "${SYSTEM_NAME[$(ens_sys "$ens")]}: start $(ens_count "$ens") servers (client ports $(hosts_of "$ens"))"
  for n in $(seq 1 "$(ens_count "$ens")"); do write_cfg "$ens" "$n"; start_server "$ens" "$n"; done
  wait_quorum "$ens"
  echo "   leader: server $LEADER" >&2
}

stop_ensemble() { # ENS
  local n
  for n in $(seq 1 "$(ens_count "$1")"); do stop_server "$1" "$n"; done
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

# failover ENS [KILLS]: sets FAIL_MS to the median and FAIL_P90_MS to the 90th percentile over
# KILLS (default RUNS) kills of the leader, each timed from kill -9 until a create through the
# survivors is accepted.
failover() {
  local ens=$1 kills=${2:-$RUNS} run n others t0 deadline accepted times=()
  for run in $(seq 1 "$kills"); do
    wait_quorum "$ens"
    others=""
    for n in $(seq 1 "$(ens_count "$ens")"); do
      [ "$n" = "$LEADER" ] || others="$others,127.0.0.1:$((BASE[$ens] + n))"
    done
    others=${others#,}
    kill -9 "${PID[$ens.$LEADER]}"
    t0=$(now_ms)
    deadline=$(( t0 + FAILOVER_WAIT_MS ))
    accepted=""
    while [ "$(now_ms)" -lt "$deadline" ]; do
      if "$ZABLAB" cli -server "$others" create "/failover-$ens-$run-$(now_ms)" x >/dev/null 2>&1; then
        accepted=$(( $(now_ms) - t0 )); break
      fi
      sleep 0.01
    done
    [ -n "$accepted" ] || die "run $run: no write accepted by $others within $((FAILOVER_WAIT_MS / 1000)) s of killing leader $LEADER
$(log_tails "$ens")"
    echo "   run $run: killed server $LEADER, next write accepted after $accepted ms" >&2
    times+=("$accepted")
    stop_server "$ens" "$LEADER"
    start_server "$ens" "$LEADER"
  done
  FAIL_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  FAIL_P90_MS=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9+0.999); if (i<1) i=1; print a[i]}')
}

rss_mb() { # ENS: sets RSS to "a/b/c", the MB of the servers
  local n kb out=""
  for n in $(seq 1 "$(ens_count "$1")"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${PID[$1.$n]}/status" 2>/dev/null || true)
    is_uint "$kb" || die "no VmRSS for $1 server $n (pid ${PID[$1.$n]}): did it exit?"
    out="$out/$((kb / 1024))"
  done
  RSS=${out#/}
}

# measure_table ENS: every figure of the table's column for ENS's system into R[SYS.*] (no
# subshell, so a failed phase stops the script and the PIDs stay known to the exit trap).
declare -A R
measure_table() {
  local ens=$1 sys name host op
  sys=$(ens_sys "$ens"); name=${SYSTEM_NAME[$sys]}
  wait_quorum "$ens"
  host="127.0.0.1:$((BASE[$ens] + FOLLOWER))"
  for op in set get create; do
    phase "$name: $op for $SECS s through follower $host"
    bench_op "$host" "$op"
    R[$sys.$op.ops]=$OPS; R[$sys.$op.p50]=$P50; R[$sys.$op.p99]=$P99
  done
  phase "$name: RSS after load"
  rss_mb "$ens"
  R[$sys.rss]=$RSS
  echo "   $RSS MB" >&2
  phase "$name: failover ($RUNS kill -9 of the leader)"
  failover "$ens"
  R[$sys.fail]=$FAIL_MS
}

# ----- the curves: points as JSON lines, one file per curve ---------------------------------
POINTS="$WORK/points"
mkdir -p "$POINTS"

# curve_point CURVE ENS X ARGS...: one `zablab bench --json` run over every server of ENS,
# appended to CURVE's points; fails when the bench fails, completes nothing, or has errors.
# Sets BEHIND and OPS_PER_S for the caller.
curve_point() {
  local curve=$1 ens=$2 x=$3 out ops errors sys
  shift 3
  sys=$(ens_sys "$ens")
  out=$("$ZABLAB" bench --hosts "$(hosts_of "$ens")" --secs "$SECS" --size "$SIZE" --znodes "$CURVE_ZNODES" \
    --json --progress 10 "$@") \
    || die "zablab bench $* against $(hosts_of "$ens") failed (its message is above)"
  [[ $out =~ ^\{.*\}$ ]] || die "zablab bench --json printed no JSON object: $out"
  [[ $out =~ \"ops\":([0-9]+) ]] || die "zablab bench --json: no ops count: $out"
  ops=${BASH_REMATCH[1]}
  [[ $out =~ \"errors\":([0-9]+) ]] || die "zablab bench --json: no errors count: $out"
  errors=${BASH_REMATCH[1]}
  [[ $out =~ \"behind\":([0-9]+) ]] || die "zablab bench --json: no behind count: $out"
  BEHIND=${BASH_REMATCH[1]}
  [[ $out =~ \"ops_per_s\":([0-9.]+) ]] || die "zablab bench --json: no ops_per_s: $out"
  OPS_PER_S=${BASH_REMATCH[1]}
  [ "$ops" -gt 0 ] || die "zablab bench $* completed no request"
  [ "$errors" = 0 ] || die "zablab bench $* had $errors failed requests"
  printf '{"system":"%s","servers":%s,"x":%s,"bench":%s}\n' \
    "${SYSTEM_NAME[$sys]}" "$(ens_count "$ens")" "$x" "$out" >> "$POINTS/$curve.jsonl"
  echo "   $curve x=$x: $OPS_PER_S ops/s, behind $BEHIND" >&2
}

curve_read_ratio() { # ENS
  local ens=$1 pct ratio
  for pct in $READ_PCTS; do
    phase "${SYSTEM_NAME[$(ens_sys "$ens")]} ($(ens_count "$ens") servers): $pct % reads for $SECS s"
    ratio=$(awk -v p="$pct" 'BEGIN { printf "%.2f", p / 100 }')
    curve_point curve-read-ratio "$ens" "$pct" --op mixed --read-ratio "$ratio" \
      --sessions "$CURVE_SESSIONS" --inflight "$CURVE_INFLIGHT"
  done
}

# curve_open_loop ENS: the offered rate doubles (×4 with --quick) from RATE_START until the
# system falls behind it (under 90 % of the rate completed per second, the drain after the end
# included, or requests never sent); the point where it did is kept, the ladder stops there (or
# after RATE_STEPS points).
curve_open_loop() {
  local ens=$1 step rate
  rate=$RATE_START
  for step in $(seq 1 "$RATE_STEPS"); do
    phase "${SYSTEM_NAME[$(ens_sys "$ens")]}: setData offered at $rate/s (open loop, point $step of at most $RATE_STEPS)"
    curve_point curve-open-loop "$ens" "$rate" --op set --rate "$rate" \
      --sessions "$OPEN_SESSIONS" --inflight "$OPEN_INFLIGHT"
    if [ "$BEHIND" -gt 0 ] || awk -v a="$OPS_PER_S" -v r="$rate" 'BEGIN { exit !(a < 0.9 * r) }'; then
      echo "   saturated at $rate/s: $OPS_PER_S/s completed, $BEHIND never sent" >&2
      return 0
    fi
    rate=$((rate * RATE_FACTOR))
  done
}

curve_sessions() { # ENS
  local ens=$1 n
  for n in $SESSION_COUNTS; do
    phase "${SYSTEM_NAME[$(ens_sys "$ens")]}: setData from $n sessions, 1 in flight each, for $SECS s"
    curve_point curve-sessions "$ens" "$n" --op set --sessions "$n" --inflight 1
  done
}

# ----- the znode scale: one ensemble per count, preloaded, then measured ---------------------
# zxid_of ENS N: the server's last zxid (decimal) from `zablab status`, or "" when not serving.
zxid_of() {
  local out hex
  out=$("$ZABLAB" status "127.0.0.1:$((BASE[$1] + $2))" 2>/dev/null) || true
  hex=$(printf '%s\n' "$out" | awk -F'\t' '{ for (i = 1; i <= NF; i++) if ($i ~ /^zxid=/) { sub(/^zxid=/, "", $i); print $i } }')
  [[ $hex =~ ^(0x)?[0-9a-fA-F]+$ ]] || return 0
  echo $((16#${hex#0x}))
}

# snapshot_bytes ENS N: SNAP_BYTES = the size of the server's newest snapshot.<zxid> ("" if none).
snapshot_bytes() {
  local f best="" bz=-1 z
  SNAP_BYTES=""
  for f in "$WORK/$1/$2/data/version-2"/snapshot.*; do
    [ -e "$f" ] || continue
    [[ ${f##*.} =~ ^[0-9a-f]+$ ]] || continue
    z=$((16#${f##*.}))
    if [ "$z" -gt "$bz" ]; then bz=$z; best=$f; fi
  done
  [ -z "$best" ] || SNAP_BYTES=$(stat -c %s "$best")
}

# measure_scale ENS COUNT: every figure of scale-znodes for ENS's system at COUNT znodes.
measure_scale() {
  local ens=$1 count=$2 sys name n t0 target deadline wiped key
  sys=$(ens_sys "$ens"); name=${SYSTEM_NAME[$sys]}; key="$sys.$count"
  rm -rf "${WORK:?}/$ens"   # each count starts from empty data directories
  start_ensemble "$ens"
  phase "$name: preload $count znodes of $SIZE bytes"
  t0=$(now_ms)
  "$ZABLAB" bench --hosts "$(hosts_of "$ens")" --op get --znodes "$count" --size "$SIZE" --keep \
    --secs 1 --sessions 3 --inflight 64 --progress 30 >/dev/null \
    || die "zablab bench could not preload $count znodes into $(hosts_of "$ens")"
  echo "   preloaded in $(( $(now_ms) - t0 )) ms" >&2
  phase "$name: RSS with $count znodes"
  rss_mb "$ens"; R[$key.rss]=$RSS; echo "   $RSS MB" >&2
  phase "$name: restart every server with $count znodes"
  stop_ensemble "$ens"
  t0=$(now_ms)
  for n in $(seq 1 "$(ens_count "$ens")"); do start_server "$ens" "$n"; done
  wait_quorum "$ens"
  R[$key.restart]=$(( $(now_ms) - t0 )); echo "   serving after ${R[$key.restart]} ms" >&2
  phase "$name: a wiped follower rejoins with $count znodes"
  wiped=$FOLLOWER
  target=$(zxid_of "$ens" "$LEADER")
  is_uint "$target" || die "no zxid from the leader (server $LEADER)"
  stop_server "$ens" "$wiped"
  rm -rf "$WORK/$ens/$wiped/data/version-2"
  t0=$(now_ms); deadline=$(( t0 + QUORUM_WAIT_MS ))
  start_server "$ens" "$wiped"
  while :; do
    kill -0 "${PID[$ens.$wiped]}" 2>/dev/null || die "the wiped server $wiped exited:
$(log_excerpt "$ens" "$wiped")"
    read_modes "$ens"
    n=$(zxid_of "$ens" "$wiped")
    if [ "${MODE[wiped]}" = follower ] && is_uint "$n" && [ "$n" -ge "$target" ]; then break; fi
    [ "$(now_ms)" -lt "$deadline" ] || die "the wiped server $wiped did not rejoin within $((QUORUM_WAIT_MS / 1000)) s (mode ${MODE[wiped]:-none}, zxid ${n:-none} of $target)"
    sleep 0.05
  done
  R[$key.rejoin]=$(( $(now_ms) - t0 )); echo "   following at zxid $target after ${R[$key.rejoin]} ms" >&2
  # A SNAP is written to disk by the learner that received it: the whole tree in one file.
  snapshot_bytes "$ens" "$wiped"
  [ -n "$SNAP_BYTES" ] || die "the rejoined server $wiped has no snapshot file in $WORK/$ens/$wiped/data/version-2"
  R[$key.snap]=$((SNAP_BYTES / 1024)); echo "   its snapshot file: ${R[$key.snap]} KiB" >&2
  phase "$name: failover with $count znodes ($SCALE_RUNS kill -9 of the leader)"
  failover "$ens" "$SCALE_RUNS"
  R[$key.fail]=$FAIL_MS; R[$key.fail90]=$FAIL_P90_MS
  phase "$name: stop 3 servers ($count znodes)"
  stop_ensemble "$ens"
  rm -rf "${WORK:?}/$ens"
}

# ----- the run: each system's ensembles in turn, the same phases in the same order -----------
for sys in zk zl; do
  [ "$DO_TABLE$DO_CURVES" = 00 ] || start_ensemble "${sys}3"
  if [ "$DO_CURVES" = 1 ]; then
    for c in $CURVE_SERVERS; do [ "$c" != 3 ] || curve_read_ratio "${sys}3"; done
    curve_open_loop "${sys}3"
    curve_sessions "${sys}3"
  fi
  # Failover restarts servers, so it comes after every other phase on this ensemble.
  [ "$DO_TABLE" = 0 ] || measure_table "${sys}3"
  if [ "$DO_TABLE$DO_CURVES" != 00 ]; then
    phase "${SYSTEM_NAME[$sys]}: stop 3 servers"
    stop_ensemble "${sys}3"
  fi
  if [ "$DO_CURVES" = 1 ]; then
    for c in $CURVE_SERVERS; do
      [ "$c" != 3 ] || continue
      start_ensemble "$sys$c"
      curve_read_ratio "$sys$c"
      phase "${SYSTEM_NAME[$sys]}: stop $c servers"
      stop_ensemble "$sys$c"
    done
  fi
  if [ "$DO_SCALE" = 1 ]; then
    for count in $ZNODE_COUNTS; do measure_scale "${sys}3" "$count"; done
  fi
done

# ----- the tables: only figures measured above ------------------------------------------------
# replace_block FILE NAME BLOCK_FILE: the lines between "<!-- NAME:begin -->" and
# "<!-- NAME:end -->" become BLOCK_FILE (which has the markers), through a temporary file and a
# rename, so FILE is never left half written; a missing block is appended under a heading.
replace_block() {
  local file=$1 name=$2 block=$3 new="$1.compare.tmp"
  [ -f "$file" ] || printf '# ZabLab benchmarks\n' > "$file"
  if grep -q "^<!-- $name:begin -->\$" "$file"; then
    grep -q "^<!-- $name:end -->\$" "$file" || die "$file has $name:begin but no $name:end"
    awk -v table="$block" -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" '
      $0 == b { while ((getline l < table) > 0) print l; skip = 1; next }
      $0 == e { skip = 0; next }
      !skip { print }' "$file" > "$new"
  else
    { cat "$file"; printf '\n## %s\n\n' "$name"; cat "$block"; } > "$new"
  fi
  mv "$new" "$file"
}

BLOCKS=()   # NAME=FILE of every block measured, written together at the end
if [ "$DO_TABLE" = 1 ]; then
  phase "the table"
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
  TABLE="$WORK/compare.md"
  {
    echo "<!-- compare:begin -->"
    echo "Measured $(date -u +%Y-%m-%d) by \`$CMDLINE\` (--secs $SECS --inflight $INFLIGHT --size $SIZE --runs $RUNS, $(nproc) cores):"
    echo "3 servers each on 127.0.0.1, same zoo.cfg (tickTime=2000, initLimit=10, syncLimit=5, fsync on),"
    echo "load from \`zablab bench\` through a follower, $INFLIGHT requests in flight, $SIZE-byte values."
    echo
    echo "| metric | Apache ZooKeeper 3.8 | ZabLab | ZabLab / ZooKeeper | goal |"
    echo "|---|---|---|---|---|"
    row "setData ops/s" set.ops "≥ 5×"
    row "setData p99 (µs)" set.p99 "≤ ¼"
    row "getData ops/s" get.ops "≥ 10×"
    row "getData p99 (µs)" get.p99 "≤ ¼"
    row "create ops/s" create.ops ""
    echo "| create p50 / p99 (µs) | ${R[zk.create.p50]} / ${R[zk.create.p99]} | ${R[zl.create.p50]} / ${R[zl.create.p99]} | $(ratio "${R[zl.create.p99]}" "${R[zk.create.p99]}")× (p99) | ≤ ¼ |"
    row "failover, kill -9 leader → next write (median ms of $RUNS)" fail "≤ ¼"
    echo "| RSS after load, per server (MB) | ${R[zk.rss]} | ${R[zl.rss]} | $(ratio "$(sum_rss "${R[zl.rss]}")" "$(sum_rss "${R[zk.rss]}")")× | |"
    echo "<!-- compare:end -->"
  } > "$TABLE"
  BLOCKS+=("compare=$TABLE")
fi

if [ "$DO_CURVES" = 1 ]; then
  PLOTS="$ROOT/bench/plots"; IMG_PREFIX="bench/plots/"
  [ -z "$OUT_DIR" ] || { PLOTS="$OUT_DIR"; IMG_PREFIX=""; }
  mkdir -p "$PLOTS"
  # curve_block NAME INTRO PLOT_ARGS -- TABLE_ARGS: the SVG and the block with its table.
  curve_block() {
    local name=$1 intro=$2 svg_metrics=$3 table_metrics=$4 xlabel=$5 title=$6 axes=$7 block="$WORK/$1.md" t
    phase "$name: table and plot"
    [ -s "$POINTS/$name.jsonl" ] || die "no points were measured for $name"
    # shellcheck disable=SC2086 # $axes is a list of flags
    "$ZABLAB" bench-plot --points "$POINTS/$name.jsonl" --metrics "$svg_metrics" --x-label "$xlabel" \
      --title "$title" $axes --svg "$PLOTS/$name.svg" >/dev/null || die "zablab bench-plot failed for $name"
    t=$("$ZABLAB" bench-plot --points "$POINTS/$name.jsonl" --metrics "$table_metrics" --x-label "$xlabel") \
      || die "zablab bench-plot failed for $name"
    {
      echo "<!-- $name:begin -->"
      echo "Measured $(date -u +%Y-%m-%d) by \`$CMDLINE\` (--secs $SECS per point, $(nproc) cores):"
      echo "$intro"
      echo
      echo "![$title]($IMG_PREFIX$name.svg)"
      echo
      echo "$t"
      echo "<!-- $name:end -->"
    } > "$block"
    cp "$POINTS/$name.jsonl" "$PLOTS/$name.jsonl"
    BLOCKS+=("$name=$block")
  }
  curve_block curve-read-ratio \
    "$CURVE_SESSIONS sessions × $CURVE_INFLIGHT in flight (closed loop) spread over every server, getData and setData mixed evenly over $CURVE_ZNODES znodes of $SIZE bytes." \
    ops ops "read %" "Throughput against the share of reads" ""
  curve_block curve-open-loop \
    "setData on 3 servers, open loop: requests due at the offered rate over $OPEN_SESSIONS sessions × $OPEN_INFLIGHT tasks, latency from when each was due (requests due before the end are still sent for up to another $SECS s, so a queue is measured, not dropped); the rate ×$RATE_FACTOR from $RATE_START/s per point until the system falls behind (that point is the last; at most $RATE_STEPS points)." \
    p50,p99,p999 ops,p50,p99,p999 "offered setData/s" "Latency against offered load (open loop)" "--x-log --y-log"
  curve_block curve-sessions \
    "setData on 3 servers from N sessions with one request in flight each (closed loop), spread over every server." \
    ops ops,p50,p99 "sessions" "setData throughput against sessions" "--x-log"
fi

if [ "$DO_SCALE" = 1 ]; then
  phase "scale-znodes: table"
  for sys in zk zl; do
    for count in $ZNODE_COUNTS; do
      for k in restart snap rejoin fail fail90; do
        is_num "${R[$sys.$count.$k]:-}" || die "$sys $count znodes: $k was not measured; BENCHMARKS.md unchanged"
      done
      [[ ${R[$sys.$count.rss]:-} =~ ^[0-9]+/[0-9]+/[0-9]+$ ]] || die "$sys $count znodes: RSS was not measured"
    done
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
  max_rss() { echo "$1" | tr / '\n' | sort -n | tail -n 1; }
  SCALE="$WORK/scale-znodes.md"
  {
    echo "<!-- scale-znodes:begin -->"
    echo "Measured $(date -u +%Y-%m-%d) by \`$CMDLINE\` ($SIZE-byte znodes, 3 servers each on 127.0.0.1, $(nproc) cores;"
    echo "failover median / p90 over $SCALE_RUNS kills of the leader):"
    echo
    echo "| znodes | metric | Apache ZooKeeper 3.8 | ZabLab | ZabLab / ZooKeeper | goal |"
    echo "|---|---|---|---|---|---|"
    for count in $ZNODE_COUNTS; do
      k="$count"
      echo "| $count | RSS per server (MB) | ${R[zk.$k.rss]} | ${R[zl.$k.rss]} | $(ratio "$(max_rss "${R[zl.$k.rss]}")" "$(max_rss "${R[zk.$k.rss]}")")× (largest) | ≤ ⅕ at 1M |"
      echo "| $count | snapshot file after a SNAP (KiB) | ${R[zk.$k.snap]} | ${R[zl.$k.snap]} | $(ratio "${R[zl.$k.snap]}" "${R[zk.$k.snap]}")× | |"
      echo "| $count | restart, kill -9 all → serving (ms) | ${R[zk.$k.restart]} | ${R[zl.$k.restart]} | $(ratio "${R[zl.$k.restart]}" "${R[zk.$k.restart]}")× | ≤ ⅓ at 1M |"
      echo "| $count | wiped follower → following at the leader's zxid (ms) | ${R[zk.$k.rejoin]} | ${R[zl.$k.rejoin]} | $(ratio "${R[zl.$k.rejoin]}" "${R[zk.$k.rejoin]}")× | |"
      echo "| $count | failover, median / p90 (ms) | ${R[zk.$k.fail]} / ${R[zk.$k.fail90]} | ${R[zl.$k.fail]} / ${R[zl.$k.fail90]} | $(ratio "${R[zl.$k.fail]}" "${R[zk.$k.fail]}")× (median) | ≤ ¼ |"
    done
    echo "<!-- scale-znodes:end -->"
  } > "$SCALE"
  BLOCKS+=("scale-znodes=$SCALE")
fi

# Every block was measured: write them all (BENCHMARKS.md, or --out for a quick run).
DEST="$ROOT/BENCHMARKS.md"
[ -z "$OUT_DIR" ] || { mkdir -p "$OUT_DIR"; DEST="$OUT_DIR/tables.md"; }
phase "write $DEST"
for b in "${BLOCKS[@]}"; do
  cat "${b#*=}"
  replace_block "$DEST" "${b%%=*}" "${b#*=}"
done
echo "bench/compare.sh: tables written to $DEST" >&2
