#!/usr/bin/env python3
"""kazoo (unmodified, from pip) against ZabLab servers configured with a super digest
(issue 10 item 8): `DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=`,
the digest of `super:test`.

usage: kazoo_super.py HOST [HOST...]

On each HOST: alice creates a node only alice may touch; a client without auth and one with a
wrong super password get NoAuth; the super user reads it, writes it, changes its ACL, reads
its ACL and deletes it. Exit 0 and "kazoo super: all checks passed" when every check passed.
"""

import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

TIMEOUT = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok   " + msg, flush=True)


def client(host, auth=None):
    c = KazooClient(hosts=host, timeout=TIMEOUT, auth_data=auth or [])
    c.start(timeout=TIMEOUT)
    return c


def no_auth(fn, msg):
    try:
        fn()
    except NoAuthError:
        print("ok   " + msg, flush=True)
        return
    fail(msg + " (no NoAuthError)")


def run(host, n):
    path = "/super-check-%d" % n
    alice = client(host, [("digest", "alice:secret")])
    only_alice = [make_digest_acl("alice", "secret", all=True)]
    alice.create(path, b"alice's", acl=only_alice)
    check(alice.get(path)[0] == b"alice's", host + ": alice reads her node")

    anon = client(host)
    no_auth(lambda: anon.get(path), host + ": no auth: NoAuth on read")
    no_auth(lambda: anon.set(path, b"x"), host + ": no auth: NoAuth on write")
    wrong = client(host, [("digest", "super:wrong")])
    no_auth(lambda: wrong.get(path), host + ": wrong super password: NoAuth")

    root = client(host, [("digest", "super:test")])
    check(root.get(path)[0] == b"alice's", host + ": super reads alice's node")
    root.set(path, b"by super")
    check(alice.get(path)[0] == b"by super", host + ": super's write is what alice reads")
    acl, _ = root.get_acls(path)
    check(acl == only_alice, host + ": super reads the ACL (%r)" % (acl,))
    root.set_acls(path, [make_digest_acl("bob", "pw", all=True)])
    no_auth(lambda: alice.get(path), host + ": after super's setACL alice is locked out")
    root.delete(path)
    check(root.exists(path) is None, host + ": super deleted the node")
    for c in (alice, anon, wrong, root):
        c.stop()
        c.close()


def main():
    if len(sys.argv) < 2:
        fail("usage: kazoo_super.py HOST [HOST...]")
    for n, host in enumerate(sys.argv[1:]):
        run(host, n)
    print("kazoo super: all checks passed", flush=True)


if __name__ == "__main__":
    main()
