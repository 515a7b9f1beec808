#!/usr/bin/env python3
"""kazoo (unmodified, from pip) against a ZabLab server: issue 5 item 4.

usage: kazoo_check.py PRIMARY OTHER [LABEL]

PRIMARY is the server the checks run through (a follower or the leader), OTHER is a second
server the session moves to. Every check asserts an outcome that could fail; the first failure
exits 1 with a message. Exit 0 means every check passed (lines starting "ok" list them, lines
starting "skip" say what was not checked and why).

kazoo 2.11 has no API for container/TTL nodes or addWatch: those requests are sent through
kazoo's own request queue (`KazooClient._call`) as small request records in kazoo's style, so
the framing, xid matching and reply parsing are still kazoo's.
"""

import struct
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)
from kazoo.protocol.serialization import (
    int_struct,
    long_struct,
    read_string,
    stat_struct,
    write_buffer,
    write_string,
    ZnodeStat,
)
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

TIMEOUT = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok   " + msg, flush=True)


def expect_raises(exc, fn, msg):
    try:
        fn()
    except exc:
        print("ok   " + msg, flush=True)
        return
    except Exception as e:  # noqa: BLE001 - report the wrong exception precisely
        fail("%s: expected %s, got %r" % (msg, exc.__name__, e))
    fail("%s: expected %s, nothing raised" % (msg, exc.__name__))


def _acl_bytes(acl):
    b = bytearray(int_struct.pack(len(acl)))
    for a in acl:
        b.extend(int_struct.pack(a.perms) + write_string(a.id.scheme) + write_string(a.id.id))
    return b


class CreateContainer:
    """createContainer (op 19): the body of create with flags 4; reply as create2."""

    type = 19

    def __init__(self, path, data):
        self.path, self.data = path, data

    def serialize(self):
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(write_buffer(self.data))
        b.extend(_acl_bytes(OPEN_ACL_UNSAFE))
        b.extend(int_struct.pack(4))
        return b

    @classmethod
    def deserialize(cls, bytes_, offset):
        path, offset = read_string(bytes_, offset)
        stat = ZnodeStat._make(stat_struct.unpack_from(bytes_, offset))
        return path, stat


class CreateTTL(CreateContainer):
    """createTTL (op 21): create's body (flags 5 persistent, 6 sequential) plus a long ttl."""

    type = 21

    def __init__(self, path, data, ttl_ms, sequential=False):
        super().__init__(path, data)
        self.ttl, self.flags = ttl_ms, (6 if sequential else 5)

    def serialize(self):
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(write_buffer(self.data))
        b.extend(_acl_bytes(OPEN_ACL_UNSAFE))
        b.extend(int_struct.pack(self.flags))
        b.extend(long_struct.pack(self.ttl))
        return b


class AddWatch:
    """addWatch (op 106): path and mode (0 persistent, 1 persistent recursive); empty reply."""

    type = 106

    def __init__(self, path, mode):
        self.path, self.mode = path, mode

    def serialize(self):
        return bytearray(write_string(self.path) + int_struct.pack(self.mode))

    @classmethod
    def deserialize(cls, bytes_, offset):
        return True


def call(zk, request):
    async_result = zk.handler.async_result()
    zk._call(request, async_result)
    return async_result.get(timeout=TIMEOUT)


class Events:
    """Collects watch callbacks; `wait(n)` waits until at least n arrived."""

    def __init__(self):
        self.items, self.cond = [], threading.Condition()

    def __call__(self, ev):
        with self.cond:
            self.items.append(ev)
            self.cond.notify_all()

    def wait(self, n, secs=TIMEOUT):
        end = time.time() + secs
        with self.cond:
            while len(self.items) < n and time.time() < end:
                self.cond.wait(end - time.time())
            return list(self.items)


def client(hosts, **kw):
    zk = KazooClient(hosts=hosts, timeout=TIMEOUT, **kw)
    zk.start(timeout=TIMEOUT)
    return zk


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    primary, other = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else "run"
    root = "/kazoo-%s-%d" % (label, int(time.time() * 1000) % 10**9)
    print("kazoo through %s (session moves to %s), root %s" % (primary, other, root), flush=True)

    zk = client(primary)
    sid = zk.client_id[0]
    check(sid != 0 and (sid >> 56) != 0, "session id %#x carries a server id in its top byte" % sid)

    # ---- create in every mode ------------------------------------------------------------
    check(zk.create(root, b"root") == root, "create persistent %s" % root)
    data, st = zk.get(root)
    check(data == b"root" and st.version == 0 and st.ephemeralOwner == 0,
          "persistent: data, version 0, ephemeralOwner 0")
    expect_raises(NodeExistsError, lambda: zk.create(root), "create existing -> NodeExists")
    expect_raises(NoNodeError, lambda: zk.create(root + "/x/y"), "create without parent -> NoNode")
    e = zk.create(root + "/eph", b"e", ephemeral=True)
    check(zk.exists(e).ephemeralOwner == sid, "ephemeral: ephemeralOwner is the session id")
    seqs = [zk.create(root + "/seq-", b"%d" % i, sequence=True) for i in range(3)]
    # eph was child 0, so the counter (parent cversion) continues from 1.
    check(seqs == [root + "/seq-%010d" % i for i in (1, 2, 3)],
          "sequential names are prefix + %%010d of the parent's cversion: %s" % seqs)
    es = zk.create(root + "/es-", b"", ephemeral=True, sequence=True)
    check(es == root + "/es-%010d" % 4 and zk.exists(es).ephemeralOwner == sid,
          "ephemeral-sequential %s owned by the session" % es)
    # A create with empty data: kazoo sends a null buffer (-1).
    zk.create(root + "/empty")
    check(zk.get(root + "/empty")[0] == b"", "empty data (null buffer) reads back empty")
    path, st = call(zk, CreateContainer(root + "/cont", b"c"))
    check(path == root + "/cont" and st.ephemeralOwner == 0 and zk.get(path)[0] == b"c",
          "container (op 19) created, ephemeralOwner shown as 0")
    path, st = call(zk, CreateTTL(root + "/ttl", b"t", 60000))
    check(path == root + "/ttl" and st.ephemeralOwner == 0, "TTL node (op 21) created")
    path, _ = call(zk, CreateTTL(root + "/ttlseq-", b"t", 60000, sequential=True))
    check(path == root + "/ttlseq-%010d" % 8, "sequential TTL node named %s" % path)
    expect_raises(NoChildrenForEphemeralsErrorOr(), lambda: zk.create(e + "/child"),
                  "child of an ephemeral -> NoChildrenForEphemerals")

    # ---- get/set with and without version --------------------------------------------------
    st = zk.set(root, b"v1")
    check(st.version == 1, "set without version -> version 1")
    st = zk.set(root, b"v2", version=1)
    check(st.version == 2, "set with matching version -> version 2")
    expect_raises(BadVersionError, lambda: zk.set(root, b"bad", version=1),
                  "set with stale version -> BadVersion")
    check(zk.get(root)[0] == b"v2", "BadVersion set changed nothing")
    expect_raises(BadVersionError, lambda: zk.delete(root + "/empty", version=5),
                  "delete with wrong version -> BadVersion")
    expect_raises(NotEmptyError, lambda: zk.delete(root), "delete non-empty -> NotEmpty")
    expect_raises(NoNodeError, lambda: zk.get(root + "/missing"), "get missing -> NoNode")
    check(zk.exists(root + "/missing") is None, "exists missing -> None")

    # ---- ls ----------------------------------------------------------------------------------
    kids = sorted(zk.get_children(root))
    want = sorted(["eph", "empty", "cont", "ttl", "ttlseq-%010d" % 8, "es-%010d" % 4]
                  + ["seq-%010d" % i for i in (1, 2, 3)])
    check(kids == want, "get_children lists exactly %d children" % len(want))
    kids, st = zk.get_children(root, include_data=True)
    check(st.numChildren == len(want) and st.cversion == 9,
          "getChildren2 stat: numChildren %d, cversion %d" % (st.numChildren, st.cversion))

    # ---- exists and child watches fire exactly once ----------------------------------------
    ew = Events()
    check(zk.exists(root + "/w", watch=ew) is None, "exists watch set on a missing node")
    cw = Events()
    zk.get_children(root, watch=cw)
    zk.create(root + "/w", b"1")
    got = ew.wait(1)
    check(len(got) == 1 and got[0].type == "CREATED" and got[0].path == root + "/w",
          "exists watch fired NodeCreated")
    got = cw.wait(1)
    check(len(got) == 1 and got[0].type == "CHILD" and got[0].path == root,
          "child watch fired NodeChildrenChanged")
    dw = Events()
    zk.get(root + "/w", watch=dw)
    zk.set(root + "/w", b"2")
    zk.create(root + "/w2")
    zk.set(root + "/w", b"3")
    zk.delete(root + "/w2")
    zk.sync(root)
    time.sleep(0.5)
    check(len(ew.items) == 1 and len(cw.items) == 1, "exists and child watches fired exactly once")
    check(len(dw.items) == 1 and dw.items[0].type == "CHANGED", "data watch fired exactly once")

    # ---- persistent recursive watch (addWatch, op 106) ---------------------------------------
    raw = []
    conn = zk._connection
    orig = conn._read_watch_event

    def spy(buffer, offset):
        typ, state = struct.unpack_from("!ii", buffer, offset)
        p, _ = read_string(buffer, offset + 8)
        raw.append((typ, p))
        return orig(buffer, offset)

    if hasattr(zk, "add_watch"):
        print("note kazoo has add_watch; checking through the raw event stream anyway", flush=True)
    print("note kazoo 2.11 has no add_watch API: sending addWatch through kazoo's queue and "
          "reading notifications at kazoo's event reader", flush=True)
    conn._read_watch_event = spy
    zk.create(root + "/rec")
    call(zk, AddWatch(root + "/rec", 1))
    zk.create(root + "/rec/a")
    zk.create(root + "/rec/a/b", b"x")
    zk.set(root + "/rec/a/b", b"y")
    zk.delete(root + "/rec/a/b")
    zk.create(root + "/other")  # outside the watched subtree
    zk.sync(root)
    end = time.time() + TIMEOUT
    want = [(1, root + "/rec/a"), (1, root + "/rec/a/b"), (3, root + "/rec/a/b"),
            (2, root + "/rec/a/b")]
    while len(raw) < len(want) and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.3)
    check(raw == want, "persistent recursive watch: created/created/changed/deleted in order, "
          "nothing outside, no NodeChildrenChanged: %s" % raw)
    conn._read_watch_event = orig

    # ---- multi ---------------------------------------------------------------------------
    t = zk.transaction()
    t.create(root + "/m1", b"a")
    t.create(root + "/m2", b"b")
    t.check(root, 2)
    t.set_data(root + "/m1", b"a2")
    res = t.commit()
    check(res[0] == root + "/m1" and res[1] == root + "/m2" and res[2] is True
          and getattr(res[3], "version", None) == 1, "multi success results %s" % (res,))
    check(zk.get(root + "/m1")[0] == b"a2", "multi applied")
    t = zk.transaction()
    t.create(root + "/m3", b"c")
    t.set_data(root + "/m1", b"zz")
    t.check(root, 99)
    t.delete(root + "/m2")
    res = t.commit()
    check(isinstance(res[2], BadVersionError) and all(isinstance(r, Exception) for r in res),
          "failed multi: BadVersion at the check, every result an error: %s" % (res,))
    check(zk.exists(root + "/m3") is None and zk.get(root + "/m1")[0] == b"a2"
          and zk.exists(root + "/m2") is not None, "failed multi applied nothing")

    # ---- digest ACL: denied, then allowed after add_auth -------------------------------------
    acl = make_digest_acl("alice", "secret", all=True)
    zk.create(root + "/secret", b"hidden", acl=[acl])
    expect_raises(NoAuthError, lambda: zk.get_acls(root + "/secret"),
                  "getACL without READ or ADMIN -> NoAuth")
    expect_raises(NoAuthError, lambda: zk.get(root + "/secret"), "get without auth -> NoAuth")
    expect_raises(NoAuthError, lambda: zk.set(root + "/secret", b"x"), "set without auth -> NoAuth")
    zk.add_auth("digest", "alice:wrong")
    expect_raises(NoAuthError, lambda: zk.get(root + "/secret"), "get with a wrong password -> NoAuth")
    zk.add_auth("digest", "alice:secret")
    check(zk.get(root + "/secret")[0] == b"hidden", "get allowed after add_auth")
    got_acl, _ = zk.get_acls(root + "/secret")
    check(len(got_acl) == 1 and got_acl[0].id.scheme == "digest"
          and got_acl[0].id.id == acl.id.id, "getACL returns the digest ACL %s" % acl.id.id)
    zk.set(root + "/secret", b"seen")
    check(zk.get(root + "/secret")[0] == b"seen", "set allowed after add_auth")

    # ---- sync, then a second client reads through another server -----------------------------
    zk2 = client(other)
    zk2.sync(root)
    check(zk2.get(root)[0] == b"v2", "sync then read on %s sees the writes" % other)

    # ---- ephemeral gone after its session closes ------------------------------------------
    zk3 = client(other)
    eph3 = zk3.create(root + "/eph3", b"", ephemeral=True)
    w = Events()
    check(zk.exists(eph3, watch=w) is not None, "ephemeral of a second session visible")
    zk3.stop()
    zk3.close()
    got = w.wait(1)
    check(len(got) == 1 and got[0].type == "DELETED", "closing the session deleted its ephemeral "
          "(watch fired NodeDeleted)")
    zk.sync(root)
    check(zk.exists(eph3) is None and zk2.exists(eph3) is None, "ephemeral gone on both servers")

    # ---- session moves to another server with the same id and password ------------------------
    # kazoo's stop() sends closeSession, so the moving session is a fresh one whose connection
    # is dropped without closing it.
    zk.stop()
    zk.close()
    zka = client(primary)
    sid, passwd = zka.client_id
    eph = zka.create(root + "/moving", b"m", ephemeral=True)
    # Abandon zka's connection without closing the session (no closeSession is sent).
    zka._connection._socket.close()
    zkb = KazooClient(hosts=other, timeout=TIMEOUT, client_id=(sid, passwd))
    zkb.start(timeout=TIMEOUT)
    check(zkb.client_id[0] == sid, "session %#x resumed on %s" % (sid, other))
    check(zkb.exists(eph).ephemeralOwner == sid, "its ephemeral survived the move")
    zkb.create(root + "/after-move", b"")
    check(zkb.exists(root + "/after-move") is not None, "the moved session writes through %s" % other)
    got = bad_password(primary, sid, passwd)
    check(got != sid, "a wrong password for that session is refused (got %s)" % got)
    zkb.stop()
    zkb.close()
    zk2.sync(root)
    check(zk2.exists(eph) is None, "closing the moved session removed its ephemeral")

    # ---- clean up -------------------------------------------------------------------------------
    zk2.add_auth("digest", "alice:secret")
    zk2.delete(root, recursive=True)
    check(zk2.exists(root) is None, "recursive delete of %s" % root)
    zk2.stop()
    zk2.close()
    try:
        zka.stop()
        zka.close()
    except Exception:  # noqa: BLE001 - its socket was closed on purpose
        pass
    print("kazoo: all checks passed through %s" % primary, flush=True)


def bad_password(host, sid, passwd):
    """Connects with sid and a wrong password; returns the session id kazoo ends up with
    (None when it could not connect at all)."""
    wrong = bytes(b ^ 0xFF for b in passwd)
    zk = KazooClient(hosts=host, timeout=4.0, client_id=(sid, wrong),
                     connection_retry={"max_tries": 1})
    try:
        zk.start(timeout=4.0)
        return zk.client_id[0] if zk.connected else None
    except Exception:  # noqa: BLE001 - refused outright
        return None
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:  # noqa: BLE001
            pass


def NoChildrenForEphemeralsErrorOr():
    from kazoo.exceptions import NoChildrenForEphemeralsError
    return NoChildrenForEphemeralsError


if __name__ == "__main__":
    main()
