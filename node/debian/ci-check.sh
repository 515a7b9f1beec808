#!/usr/bin/env bash
# CI check of the zablab .deb (issue 17), as root on a machine without a running init:
# build the package from the release binary, install it, check what it installed, verify the
# unit with systemd-analyze, then run the server exactly as the unit's ExecStart would (as its
# User, WorkingDirectory, LimitNOFILE), check it serves (ruok, srvr, a write that survives a
# restart), stop it with the unit's KillSignal and check it exits 0 with "shut down cleanly",
# and finally purge the package. Run from .ci/run after `cargo test --release`, with
# --reuse-binary: that run already built target/release/zablab (with the dev-dependencies'
# tokio features, so `cargo build -p zablab-node` would compile tokio and the node again).
set -euo pipefail
cd "$(dirname "$0")/../.."

retry() { "$@" || (sleep 5 && "$@"); }
command -v cargo-deb >/dev/null || retry cargo install cargo-deb --locked
command -v systemd-analyze >/dev/null || retry sh -c 'apt-get update && apt-get install -y systemd'
command -v adduser >/dev/null || retry sh -c 'apt-get update && apt-get install -y adduser'

if [ "${1:-}" = --reuse-binary ] && [ -x target/release/zablab ]; then
  echo "deb check: packaging the target/release/zablab built by cargo test --release"
else
  cargo build --release -p zablab-node
fi
deb=$(cargo deb -p zablab-node --no-build | tail -n 1)
dpkg -i "$deb"

fail() { echo "deb check: $*" >&2; exit 1; }
unit=/usr/lib/systemd/system/zablab.service
[ -f "$unit" ] || unit=/lib/systemd/system/zablab.service
[ -f "$unit" ] || fail "zablab.service not installed"
[ -x /usr/bin/zablab ] || fail "/usr/bin/zablab not installed"
id zablab >/dev/null || fail "postinst did not create the zablab user"
[ "$(stat -c %U /var/lib/zablab)" = zablab ] || fail "/var/lib/zablab not owned by zablab"
[ "$(cat /var/lib/zablab/myid)" = 1 ] || fail "no default myid"
dpkg-query -W -f='${Conffiles}' zablab | grep -q ' /etc/zablab/zoo.cfg ' \
  || fail "/etc/zablab/zoo.cfg is not a conffile"

# The unit parses, its ExecStart exists, its user exists (no init needed for this).
systemd-analyze verify "$unit"

key() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exec_start=$(key ExecStart); user=$(key User); group=$(key Group)
workdir=$(key WorkingDirectory); nofile=$(key LimitNOFILE); killsig=$(key KillSignal)
echo "deb check: ExecStart=$exec_start User=$user LimitNOFILE=$nofile KillSignal=$killsig"
[ "$killsig" = SIGTERM ] || fail "KillSignal is $killsig"
grep -q '^Restart=on-failure$' "$unit" || fail "Restart=on-failure missing"
# systemd raises the hard limit too; a container without CAP_SYS_RESOURCE may not allow it.
if ! prlimit --nofile="$nofile" true 2>/dev/null; then
  echo "deb check: cannot raise NOFILE to $nofile here; using the hard limit $(ulimit -Hn)"
  nofile=$(ulimit -Hn)
fi
log=$(mktemp)
chown "$user" "$log"
pid=
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true' EXIT

ruok() { bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf ruok >&3 && cat <&3' 2>/dev/null; }
start_as_unit() {
  # shellcheck disable=SC2086 # ExecStart is a command line: split it as systemd does.
  (cd "$workdir" && exec prlimit --nofile="$nofile" setpriv --reuid="$user" --regid="$group" \
     --init-groups -- $exec_start >>"$log" 2>&1) &
  pid=$!
  for _ in $(seq 100); do
    # ruok answers as soon as the client port is open; srvr once the server serves.
    [ "$(ruok)" = imok ] && /usr/bin/zablab status 127.0.0.1:2181 | grep -q 'mode=standalone' \
      && return 0
    sleep 0.1
  done
  cat "$log"; fail "the server did not answer ruok and srvr (mode standalone) in 10 s"
}
stop_as_unit() {
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  pid=
  [ "$rc" = 0 ] || { cat "$log"; fail "exit status $rc after SIGTERM"; }
  tail -n 1 "$log" | grep -q 'shut down cleanly' || { cat "$log"; fail "no clean shutdown line"; }
}

start_as_unit
# The subshell exec'd prlimit, setpriv and then the server: $pid is the server itself.
[ "$(ps -o user= -p "$pid" | tr -d ' ')" = "$user" ] || fail "server not running as $user"
grep -q "^Max open files *$nofile " "/proc/$pid/limits" || fail "LimitNOFILE not applied"
/usr/bin/zablab status 127.0.0.1:2181
/usr/bin/zablab cli -server 127.0.0.1:2181 create /deb-check survived >/dev/null
stop_as_unit
start_as_unit
[ "$(/usr/bin/zablab cli -server 127.0.0.1:2181 get /deb-check)" = survived ] \
  || fail "a write did not survive SIGTERM and restart"
stop_as_unit
echo "deb check: server log:"; cat "$log"
echo "deb check: $(tail -n 1 "$log")"

dpkg --purge zablab
[ ! -e /usr/bin/zablab ] || fail "purge left /usr/bin/zablab"
rm -rf /var/lib/zablab "$log"
echo "deb check: ok"
