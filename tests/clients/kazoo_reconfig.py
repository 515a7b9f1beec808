#!/usr/bin/env python3
"""kazoo's own TestReconfig (kazoo/tests/test_client.py, from pip, unmodified) against a ZabLab
ensemble (issue 13 item 1): the test class runs as kazoo's CI runs it, except that its harness
points at HOSTS instead of starting Java ZooKeeper servers. The ensemble must be configured as
kazoo's harness configures ZooKeeper (reconfigEnabled=true, the super digest of super:test).

usage: kazoo_reconfig.py HOST:PORT,HOST:PORT,...

Exit 0 and "kazoo reconfig: N tests passed" when every test of TestReconfig passed.
"""

import sys
import unittest

from kazoo.tests.test_client import TestReconfig


def main():
    hosts = sys.argv[1]

    class OnZabLab(TestReconfig):
        # kazoo's KazooTestHarness starts its global cluster from `cluster` and connects to
        # `servers`: no cluster to start here, and the servers are ZabLab's.
        @property
        def cluster(self):
            return []

        @property
        def servers(self):
            return hosts

        @classmethod
        def tearDownClass(cls):
            pass

    suite = unittest.TestLoader().loadTestsFromTestCase(OnZabLab)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    ran, bad = result.testsRun, len(result.failures) + len(result.errors) + len(result.skipped)
    if ran == 0 or bad:
        print("kazoo reconfig: %d of %d tests did not pass" % (bad, ran), flush=True)
        sys.exit(1)
    print("kazoo reconfig: %d tests passed" % ran, flush=True)


if __name__ == "__main__":
    main()
