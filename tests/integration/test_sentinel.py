"""Integration tests of Redis Sentinel discovery and of replicas (issue 5).

The test starts its own master, a replica (--replicaof) and three sentinels
(`redis-server sentinel.conf --sentinel`, quorum 2, short timeouts), all on
free ports of 127.0.0.1. With REDIS_SENTINEL_HOSTS set (as the gateway reads
it) aethertop must ask the sentinels for the master and talk to it; after a
forced failover (`SENTINEL failover mymaster`) a fresh command must find the
new master by itself (list sees the data, a clear works there), and so
must a running console. A sentinel that names a replica (a stale one) or
a server that is no sentinel is skipped with a note. Connected directly to
a replica, every clear is refused with exit 4, saying why.
"""

import json
import os
import shutil
import tempfile
import time

import extra_servers as xs
import harness

SERVICE = "mymaster"


def affinity(akey, provider, endpoint="ep-1", ttl=900):
    now = time.time()
    return json.dumps({"provider_id": provider, "endpoint_id": endpoint, "key_id": "pk-1",
                       "api_format": "CLAUDE", "model_name": "gm-1", "created_at": now - 5,
                       "expire_at": now + ttl, "request_count": 2})


class SentinelTest(harness.IntegrationTest):
    REDIS_DB = 13

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        xs.need_redis_server()
        cls.tmp = tempfile.mkdtemp(prefix="at-sentinel-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.master = xs.start_redis(cls, cls.tmp, "master", class_level=True)
        cls.replica = xs.start_redis(cls, cls.tmp, "replica", class_level=True,
                                     args=["--replicaof", "127.0.0.1", str(cls.master.port)])
        conf = ("sentinel monitor %s 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds %s 1000\n"
                "sentinel failover-timeout %s 5000\n"
                "sentinel parallel-syncs %s 1\n") % (SERVICE, cls.master.port, SERVICE, SERVICE, SERVICE)
        cls.sentinels = [xs.start_redis(cls, cls.tmp, "sentinel%d" % i, kind="sentinel", conf=conf,
                                        class_level=True) for i in range(3)]
        cls.sentinel_hosts = ",".join("127.0.0.1:%d" % s.port for s in cls.sentinels)
        # a PostgreSQL user owning API key "key-s-1", for clear user
        cls.ctx.psql("INSERT INTO users (id, username, email, password_hash) VALUES ('u-s-1', "
                     "'sentinel-user', 's@example.com', 'x'); INSERT INTO api_keys (id, user_id, "
                     "key_hash, name) VALUES ('key-s-1', 'u-s-1', 'h1', 'sentinel key');")
        cls.wait_topology()

    @classmethod
    def wait_topology(cls, timeout=30):
        """Until every sentinel knows the replica and the two other sentinels."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = True
            for s in cls.sentinels:
                c = s.client()
                try:
                    reps = c.execute("SENTINEL", "REPLICAS", SERVICE)
                    sens = c.execute("SENTINEL", "SENTINELS", SERVICE)
                    if not reps or len(sens) < 2:
                        ok = False
                finally:
                    c.close()
            link = cls.replica.client()
            try:
                info = link.execute("INFO", "replication").decode()
            finally:
                link.close()
            if ok and "master_link_status:up" in info:
                return
            time.sleep(0.2)
        raise AssertionError("sentinels did not discover the replica and each other")

    # ------------------------------------------------------------ helpers

    def sentinel_env(self, extra=None):
        e = {"REDIS_URL": None, "REDIS_SENTINEL_HOSTS": self.sentinel_hosts,
             "REDIS_SENTINEL_SERVICE_NAME": SERVICE}
        e.update(extra or {})
        return e

    def run_at(self, args, env=None, timeout=30):
        audit = os.path.join(self.tmp, "audit.log")
        rc, out, err = self.ctx.run_aethertop([str(a) for a in args] + ["--audit-log", audit],
                                              env=env, timeout=timeout, binary=True)
        xs.assert_clean(self, args, out, err)
        return rc, out.decode(), err.decode()

    def master_addr(self, sentinel=0):
        c = self.sentinels[sentinel].client()
        try:
            host, port = c.execute("SENTINEL", "get-master-addr-by-name", SERVICE)
        finally:
            c.close()
        return host.decode(), int(port)

    def server_by_port(self, port):
        for s in (self.master, self.replica):
            if s.port == port:
                return s
        self.fail("sentinels name an unknown master port %d" % port)

    def role(self, srv):
        c = srv.client()
        try:
            return c.execute("ROLE")[0].decode()
        finally:
            c.close()

    def all_keys(self, srv):
        c = srv.client()
        try:
            return sorted(c.keys("*"))
        finally:
            c.close()

    def listed(self, env):
        rc, out, err = self.run_at(["list", "--json", "--limit", "1000"], env=env)
        self.assertEqual(rc, 0, err)
        return sorted(i["affinity_key"] for i in json.loads(out)["data"]["items"])

    def wait_replicated(self, src, dst, key, timeout=15):
        def same():
            a, b = src.client(), dst.client()
            try:
                return a.execute("GET", key) == b.execute("GET", key)
            finally:
                a.close()
                b.close()
        harness.wait_for(same, timeout)

    # ------------------------------------------------------------ tests

    def test_1_sentinel_master_then_failover(self):
        old_port = self.master_addr()[1]
        old = self.server_by_port(old_port)
        other = self.replica if old is self.master else self.master
        c = old.client()
        c.execute("FLUSHALL")
        c.execute("SETEX", "cache_affinity:key-s-1:CLAUDE:gm-1", 900, affinity("key-s-1", "prov-1"))
        c.execute("SETEX", "cache_affinity:key-s-2:CLAUDE:gm-1", 900, affinity("key-s-2", "prov-2"))
        c.close()
        env = self.sentinel_env()
        self.assertEqual(self.listed(env), ["key-s-1", "key-s-2"])
        rc, out, err = self.run_at(["stats", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "master")
        self.wait_replicated(old, other, "cache_affinity:key-s-2:CLAUDE:gm-1")

        # a sentinel that is down or unknown is skipped: the next one answers
        env_dead_first = self.sentinel_env(
            {"REDIS_SENTINEL_HOSTS": "127.0.0.1:%d,%s" % (xs.free_port(), self.sentinel_hosts)})
        self.assertEqual(self.listed(env_dead_first), ["key-s-1", "key-s-2"])

        # force a failover and wait until every sentinel and the new master agree
        s0 = self.sentinels[0].client()
        self.assertEqual(s0.execute("SENTINEL", "FAILOVER", SERVICE), "OK")
        s0.close()

        def promoted():
            return (all(self.master_addr(i)[1] == other.port for i in range(3))
                    and self.role(other) == "master")
        harness.wait_for(promoted, 30, 0.2)

        # aethertop finds the new master by itself
        self.assertEqual(self.listed(env), ["key-s-1", "key-s-2"])
        c = other.client()
        c.execute("SETEX", "cache_affinity:key-s-3:CLAUDE:gm-1", 900, affinity("key-s-3", "prov-1"))
        c.close()
        self.assertEqual(self.listed(env), ["key-s-1", "key-s-2", "key-s-3"])
        rc, out, err = self.run_at(["stats", "--json"], env=env)
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "master")

        rc, out, err = self.run_at(["clear", "provider", "prov-1", "--yes", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], 2)
        c = other.client()
        self.assertEqual(c.keys("cache_affinity:*"), [b"cache_affinity:key-s-2:CLAUDE:gm-1"])
        c.close()

        rc, out, err = self.run_at(["clear", "all", "--yes", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], 1)

        # the old master comes back as a replica of the new one
        harness.wait_for(lambda: self.role(old) == "slave", 30, 0.2)

    def test_2_sentinel_errors(self):
        # unknown service name: a clear one-line reason, exit 3
        rc, out, err = self.run_at(["list"], env=self.sentinel_env(
            {"REDIS_SENTINEL_SERVICE_NAME": "no-such-master"}))
        self.assertEqual(rc, 3, err)
        self.assertIn("no-such-master", err)
        self.assertIn("sentinel", err.lower())
        # no sentinel reachable
        dead_ports = (xs.free_port(), xs.free_port())
        dead = "127.0.0.1:%d,127.0.0.1:%d" % dead_ports
        t0 = time.monotonic()
        rc, out, err = self.run_at(["list", "--timeout", "1"],
                                   env=self.sentinel_env({"REDIS_SENTINEL_HOSTS": dead}))
        self.assertEqual(rc, 3, err)
        self.assertIn("sentinel", err.lower())
        for p in dead_ports:   # every sentinel tried, and why, on the one line
            self.assertIn("127.0.0.1:%d" % p, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertLess(time.monotonic() - t0, 6)

    def test_3_replica_refuses_every_clear(self):
        """Directly connected to a replica: read-only by itself, exit 4."""
        master_port = self.master_addr()[1]
        master = self.server_by_port(master_port)
        replica = self.replica if master is self.master else self.master
        harness.wait_for(lambda: self.role(replica) == "slave", 30, 0.2)
        c = master.client()
        c.execute("FLUSHALL")
        c.execute("SETEX", "cache_affinity:key-s-1:CLAUDE:gm-1", 900, affinity("key-s-1", "prov-1"))
        c.execute("SETEX", "model:provider_global:prov-1:gm-1", 900, '{"provider_model_name": "x"}')
        c.execute("SETEX", "global_model:resolve:alias", 900, '{"id": "gm-1", "name": "gm"}')
        c.close()
        self.wait_replicated(master, replica, "global_model:resolve:alias")
        before = self.all_keys(replica)
        url = "redis://127.0.0.1:%d/0" % replica.port
        clears = [
            ["clear", "all"],
            ["clear", "provider", "prov-1"],
            ["clear", "user", "sentinel-user"],
            ["clear", "user", "key-s-1"],
            ["clear", "affinity", "key-s-1", "ep-1", "gm-1", "CLAUDE"],
            ["clear", "mappings"],
            ["clear", "mapping", "alias"],
            ["clear", "provider-mapping", "prov-1", "gm-1"],
        ]
        for args in clears:
            for extra in (["--yes"], ["--yes", "--json"]):
                rc, out, err = self.run_at(args + extra + ["--redis", url])
                self.assertEqual(rc, 4, "%s on a replica: rc %d, stderr %r" % (args, rc, err))
                self.assertIn("replica", err, args)
                self.assertIn("refused", err, args)
        self.assertEqual(self.all_keys(replica), before)
        # reading from a replica is fine
        rc, out, err = self.run_at(["list", "--json", "--redis", url])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["meta"]["total"], 1)
        rc, out, err = self.run_at(["stats", "--json", "--redis", url])
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "slave")

    def test_4_sentinel_naming_a_replica_is_skipped(self):
        """A sentinel whose "master" answers ROLE as a replica (a stale or
        partitioned sentinel), and a server that is no sentinel at all, are
        skipped with a note: the next sentinel's master is used."""
        stale_replica = xs.start_redis(self, self.tmp, "stale-replica",
                                       args=["--replicaof", "127.0.0.1", str(xs.free_port())])
        conf = ("sentinel monitor %s 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds %s 1000\n") % (SERVICE, stale_replica.port, SERVICE)
        stale = xs.start_redis(self, self.tmp, "stale-sentinel", kind="sentinel", conf=conf)
        c = stale.client()
        try:
            self.assertEqual(int(c.execute("SENTINEL", "get-master-addr-by-name", SERVICE)[1]),
                             stale_replica.port)
        finally:
            c.close()
        master = self.server_by_port(self.master_addr()[1])
        c = master.client()
        c.execute("FLUSHALL")
        c.execute("SETEX", "cache_affinity:key-s-9:CLAUDE:gm-1", 900, affinity("key-s-9", "prov-9"))
        c.close()
        hosts = "127.0.0.1:%d,127.0.0.1:%d,%s" % (stale.port, stale_replica.port, self.sentinel_hosts)
        env = self.sentinel_env({"REDIS_SENTINEL_HOSTS": hosts})
        rc, out, err = self.run_at(["stats", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "master")
        self.assertIn("127.0.0.1:%d" % stale.port, err)
        self.assertIn("not a master", err)
        self.assertIn("127.0.0.1:%d" % stale_replica.port, err)
        self.assertEqual(self.listed(env), ["key-s-9"])
        # only stale answers: no master, a clear reason naming what it found
        env = self.sentinel_env({"REDIS_SENTINEL_HOSTS": "127.0.0.1:%d" % stale.port})
        rc, out, err = self.run_at(["list"], env=env)
        self.assertEqual(rc, 3, err)
        self.assertIn("127.0.0.1:%d" % stale_replica.port, err)
        self.assertIn("not a master", err)
        self.assertEqual(out, "")

    def test_5_console_follows_a_failover(self):
        """The console, between two refreshes: the sentinels fail over, and
        the next refreshes read the new master (named in the header)."""
        import test_console_screen as tcs
        old = self.server_by_port(self.master_addr()[1])
        other = self.replica if old is self.master else self.master
        harness.wait_for(lambda: self.role(other) == "slave", 30, 0.2)
        c = old.client()
        c.execute("FLUSHALL")
        c.execute("SETEX", "cache_affinity:key-s-5:CLAUDE:gm-1", 900, affinity("key-s-5", "prov-5"))
        c.close()
        self.wait_replicated(old, other, "cache_affinity:key-s-5:CLAUDE:gm-1")
        con = tcs.Console(self.ctx, ["--delay", "1", "--timeout", "2"], env=self.sentinel_env())
        self.addCleanup(con.close)
        con.wait("Redis 127.0.0.1:%d/0 master" % old.port, timeout=20)
        # a failover the sentinels give up (failover-timeout is 5 s here,
        # short for a loaded 2-core machine) is asked for again
        def failed_over():
            return all(self.master_addr(i)[1] == other.port for i in range(3)) and self.role(other) == "master"
        for attempt in range(4):
            s0 = self.sentinels[0].client()
            try:
                reply = s0.execute("SENTINEL", "FAILOVER", SERVICE)
            except Exception as e:  # INPROG: the last one is still going
                reply = e
            finally:
                s0.close()
            if attempt == 0:
                self.assertEqual(reply, "OK")
            try:
                harness.wait_for(failed_over, 15, 0.2)
                break
            except AssertionError:
                if attempt == 3:
                    raise
        con.wait("Redis 127.0.0.1:%d/0 master" % other.port, timeout=20)
        # and it stays there: data written to the new master shows up
        c = other.client()
        c.execute("SETEX", "cache_affinity:key-s-6:CLAUDE:gm-1", 900, affinity("key-s-6", "prov-6"))
        c.close()
        con.wait("prov-6", timeout=20)
        con.quit(self)


if __name__ == "__main__":
    harness.main()
