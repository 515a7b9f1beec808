#!/usr/bin/env python3
"""kazoo (unmodified, from pip) and read-only mode (issue 13 item 2), after kazoo's own
TestReadOnlyMode.

usage: kazoo_read_only.py SURVIVOR HOSTS

Driven by the test over stdin/stdout, one line each way per phase:
  prints WRITTEN   after writing /ro-test through SURVIVOR; then waits for the line CUT
                   (every server but SURVIVOR was stopped);
  prints RO_OK     after a read_only=True client got CONNECTED_RO on SURVIVOR, read /ro-test,
                   and had a create and a sync refused with NotReadOnlyCallError, and a client
                   without read_only was not let in; then waits for HEALED (the others are back);
  prints "kazoo read-only: all checks passed" once the same client is CONNECTED (read-write)
  again and its write commits.
Any failed check exits 1 with a message.
"""

import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KeeperState

LIMIT = 60.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait_line(word):
    line = sys.stdin.readline().strip()
    if line != word:
        fail("expected %r on stdin, got %r" % (word, line))


def wait_until(what, pred):
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    fail("gave up waiting for " + what)


def main():
    survivor, hosts = sys.argv[1], sys.argv[2]

    rw = KazooClient(hosts=survivor, timeout=10.0)
    rw.start(timeout=LIMIT)
    rw.create("/ro-test", b"v1")
    rw.stop()
    rw.close()
    print("WRITTEN", flush=True)
    wait_line("CUT")

    client = KazooClient(hosts=hosts, read_only=True, timeout=10.0)
    states = []
    ro = threading.Event()

    @client.add_listener
    def listen(state):
        states.append((state, client.client_state))
        if client.client_state == KeeperState.CONNECTED_RO:
            ro.set()

    client.start(timeout=LIMIT)
    if not ro.wait(LIMIT):
        fail("no CONNECTED_RO (states %r)" % states)
    if client.client_state != KeeperState.CONNECTED_RO:
        fail("client state %r, not CONNECTED_RO" % client.client_state)
    ro_session = client.client_id[0]
    data, _ = client.get("/ro-test")
    if data != b"v1":
        fail("read %r from the read-only server" % data)
    if "ro-test" not in client.get_children("/"):
        fail("/ro-test missing from the read-only server's children")
    for what, call in [
        ("create", lambda: client.create("/fred")),
        ("set", lambda: client.set("/ro-test", b"v2")),
        ("sync", lambda: client.sync("/ro-test")),
    ]:
        try:
            call()
            fail(what + " succeeded on a read-only server")
        except NotReadOnlyCallError:
            pass
    plain = KazooClient(hosts=survivor, timeout=4.0)
    try:
        plain.start(timeout=5.0)
        fail("a client without read_only connected to the read-only server")
    except KazooTimeoutError:
        pass
    finally:
        plain.stop()
        plain.close()
    print("RO_OK", flush=True)
    wait_line("HEALED")

    wait_until(
        "CONNECTED after the quorum returned",
        lambda: client.client_state == KeeperState.CONNECTED,
    )
    if client.client_id[0] == ro_session:
        fail("still on the read-only session 0x%x" % ro_session)
    client.create("/after-ro", b"x")
    data, _ = client.get("/after-ro")
    if data != b"x":
        fail("read back %r" % data)
    client.stop()
    client.close()
    print("states seen: %s" % ", ".join(str(s) for s, _ in states), flush=True)
    print("kazoo read-only: all checks passed", flush=True)


if __name__ == "__main__":
    main()
