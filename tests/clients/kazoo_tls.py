#!/usr/bin/env python3
"""kazoo (unmodified, from pip) against the secure client ports of `zablab cluster --tls`
(issue 10 item 7): TLS with a client certificate (ssl.clientAuth=need).

usage: kazoo_tls.py CA CLIENT_PEM SECURE_A SECURE_B PLAIN_B

CA is the trust store, CLIENT_PEM the client's key and certificate in one file. Through
SECURE_A (use_ssl=True) a session creates a node and reads it back; a second session through
SECURE_B reads it after sync and deletes it; PLAIN_B (the plain clientPort of B) sees the
delete. A client with TLS but no certificate, and a client without TLS on the secure port, do
not get a session. Exit 0 and "kazoo tls: all checks passed" when every check passed.
"""

import sys

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

TIMEOUT = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok   " + msg, flush=True)


def refused(host, msg, **kw):
    """A client that must not get a session within a few seconds."""
    c = KazooClient(hosts=host, timeout=3.0, **kw)
    try:
        c.start(timeout=4.0)
    except KazooTimeoutError:
        check(True, msg)
        return
    finally:
        c.stop()
        c.close()
    fail(msg + ": got a session")


def main():
    if len(sys.argv) != 6:
        fail(__doc__)
    ca, client_pem, secure_a, secure_b, plain_b = sys.argv[1:]
    tls = dict(use_ssl=True, ca=ca, certfile=client_pem, keyfile=client_pem)

    a = KazooClient(hosts=secure_a, timeout=TIMEOUT, **tls)
    a.start(timeout=TIMEOUT)
    check(a.connected, "TLS session through " + secure_a)
    a.ensure_path("/tls")
    path = a.create("/tls/n-", b"over tls", sequence=True)
    data, stat = a.get(path)
    check(data == b"over tls" and stat.version == 0, "create then get over TLS: " + path)
    a.set(path, b"v2")

    b = KazooClient(hosts=secure_b, timeout=TIMEOUT, **tls)
    b.start(timeout=TIMEOUT)
    b.sync(path)
    data, stat = b.get(path)
    check(data == b"v2" and stat.version == 1, "another server's secure port reads the write")
    b.delete(path)

    p = KazooClient(hosts=plain_b, timeout=TIMEOUT)
    p.start(timeout=TIMEOUT)
    p.sync("/tls")
    check(p.exists(path) is None, "the plain client port sees the delete")
    p.stop()
    p.close()
    for c in (a, b):
        c.stop()
        c.close()

    refused(secure_a, "TLS without a client certificate is refused", use_ssl=True, ca=ca)
    refused(secure_a, "no TLS on the secure port is refused")
    print("kazoo tls: all checks passed", flush=True)


if __name__ == "__main__":
    main()
