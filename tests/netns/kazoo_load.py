#!/usr/bin/env python3
"""kazoo clients for node/tests/multihost.rs, run inside a network namespace (ip netns exec).

  kazoo_load.py writer HOSTS NAME [PAUSE_MS]
      One session on HOSTS (tried in the given order, not shuffled) creating /mh/NAME-<n>
      until its stdin closes. Prints `ack PATH` once a create is answered OK, `err KIND` for a
      failure (unknown outcome: not counted as acknowledged), `done ACKS ERRS` at the end.
  kazoo_load.py once HOST PATH
      Creates PATH through HOST alone (5 s at most); prints `ack PATH` or `err KIND`.
  kazoo_load.py ls HOST
      sync("/mh") then the children of /mh on HOST alone, one per line, then `end N`.
"""
import os
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.retry import KazooRetry

REQUEST_TIMEOUT = 5.0


def client(hosts, tries=-1):
    retry = KazooRetry(max_tries=tries, delay=0.05, max_delay=0.5, ignore_expire=False)
    return KazooClient(hosts=hosts, timeout=4.0, randomize_hosts=False,
                       connection_retry=retry, command_retry=None)


def writer(hosts, name, pause_ms):
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    zk = client(hosts)
    zk.start(timeout=60)
    zk.ensure_path("/mh")
    acks = errs = n = 0
    while not stop.is_set():
        path = "/mh/%s-%07d" % (name, n)
        n += 1
        try:
            zk.create_async(path, b"x").get(timeout=REQUEST_TIMEOUT)
            acks += 1
            print("ack", path, flush=True)
        except NodeExistsError:
            # Never retried, so a fresh path cannot exist: report it as the anomaly it is.
            errs += 1
            print("err NodeExists", path, flush=True)
        except Exception as e:  # ConnectionLoss, SessionExpired, timeout: outcome unknown
            errs += 1
            print("err", type(e).__name__, flush=True)
            time.sleep(0.05)
        if pause_ms:
            time.sleep(pause_ms / 1000.0)
    print("done", acks, errs, flush=True)
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def once(host, path):
    zk = client(host, tries=3)
    try:
        zk.start(timeout=REQUEST_TIMEOUT)
        zk.create_async(path, b"x", makepath=True).get(timeout=REQUEST_TIMEOUT)
        print("ack", path, flush=True)
    except Exception as e:
        print("err", type(e).__name__, flush=True)
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


def ls(host):
    zk = client(host, tries=20)
    zk.start(timeout=20)
    zk.sync("/mh")
    children = zk.get_children("/mh")
    for c in children:
        print(c)
    print("end", len(children), flush=True)
    zk.stop()
    zk.close()


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "writer" and len(sys.argv) in (4, 5):
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    elif cmd == "once" and len(sys.argv) == 4:
        once(sys.argv[2], sys.argv[3])
    elif cmd == "ls" and len(sys.argv) == 3:
        ls(sys.argv[2])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
