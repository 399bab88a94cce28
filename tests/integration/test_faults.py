"""Fault tests (issue 5, "Faults"): what aethertop does when Redis or
PostgreSQL misbehave. Each fault is its own test.

  * Redis stopped before a command, killed while a command waits for it, and
    restarted: exit 3 with the reason, fast; after the restart it works again.
  * Redis slowed (DEBUG SLEEP / CLIENT PAUSE from another connection) with
    --timeout 1: every command gives up after about a second (exit 3).
  * PostgreSQL unreachable (wrong port) or hanging (accepts, never answers):
    list still lists raw ids with a warning; operations that need a user
    look-up exit 3 and say why.
  * A clear that fails halfway (its connection killed, or writes paused past
    the timeout) reports what was done and what was not, writes that to the
    audit log, and running it again finishes the job with nothing outside
    the target lost.

Redis faults use private redis-server processes (started with
--enable-debug-command yes); PostgreSQL faults use the shared test Redis
(database index 12).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import extra_servers as xs
import harness


def affinity(akey, provider, endpoint="ep-1", ttl=900, count=1):
    now = time.time()
    return json.dumps({"provider_id": provider, "endpoint_id": endpoint, "key_id": "pk-%s" % provider,
                       "api_format": "CLAUDE", "model_name": "gm-1", "created_at": now - 5,
                       "expire_at": now + ttl, "request_count": count})


# A valid Fernet key: used as it is, so no PBKDF2 derivation (about a second
# under ASan) sits in front of the Redis wait that the timing tests measure.
FAST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


class FaultBase(harness.IntegrationTest):
    REDIS_DB = 12
    EXTRA_ENV = {}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="at-faults-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.audit = os.path.join(self.tmp, "audit.log")

    def run_at(self, args, env=None, timeout=60, redis_url=None):
        argv = [str(a) for a in args] + ["--audit-log", self.audit]
        if redis_url:
            argv += ["--redis", redis_url]
        env = dict(self.EXTRA_ENV, **(env or {}))
        t0 = time.monotonic()
        rc, out, err = self.ctx.run_aethertop(argv, env=env, timeout=timeout, binary=True)
        elapsed = time.monotonic() - t0
        xs.assert_clean(self, args, out, err)
        return rc, out.decode(), err.decode(), elapsed

    def spawn_at(self, args, redis_url):
        argv = [harness.AETHERTOP] + [str(a) for a in args] + ["--redis", redis_url,
                                                              "--audit-log", self.audit]
        proc = subprocess.Popen(argv, env=self.ctx.env(self.EXTRA_ENV), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def audit_lines(self):
        if not os.path.exists(self.audit):
            return []
        with open(self.audit, encoding="utf-8") as f:
            return harness.audit_records(f.read())


class RedisFaults(FaultBase):
    """Stopped, killed mid-command, restarted, slowed."""

    EXTRA_ENV = {"ENCRYPTION_KEY": FAST_KEY}

    def setUp(self):
        super().setUp()
        xs.need_redis_server()
        self.srv = xs.start_redis(self, self.tmp, "redis", args=["--enable-debug-command", "yes"])
        c = self.srv.client()
        c.pipeline([("SETEX", "cache_affinity:key-%d:CLAUDE:gm-1" % i, 900, affinity("key-%d" % i, "prov-1"))
                    for i in range(20)])
        c.close()
        self.url = self.srv.url()

    def sleep_redis(self, seconds, how="debug"):
        """Block Redis from another connection (in a thread); returns the thread."""
        started = threading.Event()

        def block():
            c = harness.Redis(port=self.srv.port, timeout=seconds + 30)
            try:
                started.set()
                if how == "debug":
                    c.execute("DEBUG", "SLEEP", seconds)
                else:
                    c.execute("CLIENT", "PAUSE", int(seconds * 1000), how)
            except (OSError, ConnectionError, harness.RedisError):
                pass
            finally:
                c.close()

        t = threading.Thread(target=block, daemon=True)
        t.start()
        started.wait(5)
        # the command has reached Redis: it stops answering (no fixed pause)
        harness.wait_for(lambda: harness.redis_stalled(self.srv.port), timeout=15)
        return t

    COMMANDS = (["list"], ["list", "--json"], ["stats", "--json"], ["metrics"], ["mappings"],
                ["clear", "all", "--yes"], ["clear", "provider", "prov-1", "--yes"],
                ["clear", "mapping", "x", "--yes"])

    def test_redis_stopped_before_the_command(self):
        self.srv.stop()
        for args in self.COMMANDS:
            # refused at once: well under --timeout 10 (a 3 s bound against the
            # default 3 s timeout left no room for a slow start)
            rc, out, err, elapsed = self.run_at(list(args) + ["--timeout", "10"], redis_url=self.url)
            self.assertEqual(rc, 3, "%s: %s" % (args, err))
            self.assertEqual(out, "", args)
            self.assertIn("127.0.0.1:%d" % self.srv.port, err)
            self.assertIn("Connection refused", err)
            self.assertLess(elapsed, 5, args)
        # the clears ran nothing, so nothing was audited
        self.assertEqual(self.audit_lines(), [])
        self.srv.restart()
        rc, out, err, _ = self.run_at(["list", "--json"], redis_url=self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["meta"]["total"], 0)  # no persistence: empty again

    def test_redis_killed_while_a_command_waits(self):
        for args in (["list", "--json"], ["stats"], ["clear", "all", "--yes"]):
            if not self.srv.alive():
                self.srv.restart()
            self.sleep_redis(10)       # Redis is killed long before it wakes
            proc = self.spawn_at(list(args) + ["--timeout", "20"], self.url)
            # killed only once it is connected (before, it would see "refused")
            harness.wait_connected(proc, self.srv.port, timeout=8)
            self.assertIsNone(proc.poll(), "%s should be waiting for the sleeping Redis" % args)
            t_kill = time.monotonic()
            self.srv.kill()
            out, err = proc.communicate(timeout=20)
            waited = time.monotonic() - t_kill
            xs.assert_clean(self, args, out, err)
            err = err.decode()
            self.assertEqual(proc.returncode, 3, "%s: %s" % (args, err))
            self.assertRegex(err, r"connection (closed by Redis|lost)")
            # well before its --timeout 20 (generous for a loaded machine)
            self.assertLess(waited, 8, "%s noticed the dead Redis only after %.1fs" % (args, waited))
        self.srv.restart()
        rc, out, err, _ = self.run_at(["stats", "--json"], redis_url=self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "master")

    def test_redis_slowed_debug_sleep_honours_timeout(self):
        for args in self.COMMANDS:
            # Redis sleeps 5 s; giving up after 1 s (plus start-up, generous on
            # a slow machine) is told apart from waiting for the sleep to end
            t = self.sleep_redis(5)
            rc, out, err, elapsed = self.run_at(list(args) + ["--timeout", "1"], redis_url=self.url)
            self.assertEqual(rc, 3, "%s: %s" % (args, err))
            self.assertIn("timed out after 1000 ms", err)
            self.assertLess(elapsed, 4, "%s took %.1fs with --timeout 1" % (args, elapsed))
            t.join(10)
        # the data is intact: nothing was cleared while Redis slept
        c = self.srv.client()
        self.assertEqual(len(c.keys("cache_affinity:*")), 20)
        c.close()

    def test_redis_paused_client_pause_honours_timeout(self):
        self.sleep_redis(5, how="ALL")      # CLIENT PAUSE itself returns at once
        rc, out, err, elapsed = self.run_at(["list", "--timeout", "1"], redis_url=self.url)
        self.assertEqual(rc, 3, err)
        self.assertIn("timed out", err)
        self.assertLess(elapsed, 4)
        harness.wait_for(lambda: not harness.redis_stalled(self.srv.port), timeout=15)  # the pause is over
        rc, out, err, elapsed = self.run_at(["list", "--json", "--timeout", "1"], redis_url=self.url)
        self.assertEqual(rc, 0, err)


class HalfwayClears(FaultBase):
    """A clear that fails part-way, then runs again to the end."""

    N_TARGET = 60000
    N_OTHER = 20000

    def setUp(self):
        super().setUp()
        xs.need_redis_server()
        self.srv = xs.start_redis(self, self.tmp, "redis", args=["--enable-debug-command", "yes"])
        self.url = self.srv.url()
        self.seed()

    def seed(self):
        c = self.srv.client()
        cmds = []
        for i in range(self.N_TARGET + self.N_OTHER):
            prov = "prov-target" if i < self.N_TARGET else "prov-other"
            cmds.append(("SETEX", "cache_affinity:key-%06d:CLAUDE:gm-1" % i, 1800, affinity("key-%d" % i, prov)))
        cmds.append(("SETEX", "model:id:m-1", 1800, '{"id": "m-1"}'))
        c.pipeline(cmds, chunk=5000)
        c.close()

    def count(self, pattern="cache_affinity:*"):
        c = self.srv.client()
        try:
            return len(c.keys(pattern))
        finally:
            c.close()

    def kill_clear_connection(self, proc, threshold):
        """Wait until Redis holds fewer than `threshold` keys, then kill the
        connection of the running clear (CLIENT KILL, from another connection)."""
        c = self.srv.client()
        try:
            me = c.execute("CLIENT", "ID")
            deadline = time.monotonic() + 60
            while c.execute("DBSIZE") >= threshold:
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.fail("the clear finished before it could be interrupted")
                time.sleep(0.002)
            listing = c.execute("CLIENT", "LIST", "TYPE", "normal").decode()
            ids = [int(m) for m in re.findall(r"^id=(\d+) ", listing, re.M) if int(m) != me]
            self.assertTrue(ids, listing)
            for i in ids:
                c.execute("CLIENT", "KILL", "ID", i)
        finally:
            c.close()

    def check_partial(self, proc, args, total_target):
        out, err = proc.communicate(timeout=60)
        xs.assert_clean(self, args, out, err)
        err = err.decode()
        self.assertEqual(proc.returncode, 3, err)
        self.assertEqual(out, b"", "no success document for a failed clear")
        # a command whose reply never came may have run all the same: the
        # message then says how many keys it carried
        m = re.search(r"stopped part-way: (\d+) keys deleted(?:; the reply for the last batch of (\d+) was "
                      r"lost, so up to \2 more may have been deleted;|,) the rest not", err)
        self.assertTrue(m, "the error says what was and was not done: %r" % err)
        self.assertIn("run it again", err)
        reported = int(m.group(1))
        uncertain = int(m.group(2) or 0)
        self.assertGreater(reported, 0)
        self.assertLess(reported, total_target)
        self.assertLessEqual(uncertain, 1000, "a batch is at most 1000 keys")
        audit = self.audit_lines()
        self.assertEqual(audit[-1]["outcome"], "failed")
        self.assertEqual(audit[-1]["count"], reported)
        self.assertIn("stopped part-way", audit[-1].get("detail", ""))
        return reported, uncertain

    def test_clear_provider_connection_killed_halfway(self):
        args = ["clear", "provider", "prov-target", "--yes", "--json"]
        proc = self.spawn_at(args, self.url)
        self.kill_clear_connection(proc, self.N_TARGET + self.N_OTHER + 1 - 5000)
        reported, uncertain = self.check_partial(proc, args, self.N_TARGET)
        left_target = self.N_TARGET + self.N_OTHER - self.count()
        # the batch in flight may have been deleted without its reply arriving
        self.assertGreaterEqual(left_target, reported)
        self.assertLessEqual(left_target - reported, uncertain)
        # run it again: it finishes, and nothing outside the target was lost
        rc, out, err, _ = self.run_at(args, redis_url=self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], self.N_TARGET - left_target)
        self.assertEqual(self.count(), self.N_OTHER)
        rc, out, err, _ = self.run_at(["stats", "--json"], redis_url=self.url)
        by_provider = {p["provider_id"]: p["count"] for p in json.loads(out)["data"]["by_provider"]}
        self.assertEqual(by_provider, {"prov-other": self.N_OTHER})
        self.assertEqual(self.count("model:*"), 1)
        self.assertEqual([a["outcome"] for a in self.audit_lines()], ["failed", "done"])

    def test_clear_all_paused_past_the_timeout(self):
        """Writes paused (CLIENT PAUSE WRITE) longer than --timeout mid-clear."""
        args = ["clear", "all", "--yes", "--json", "--timeout", "1"]
        proc = self.spawn_at(args, self.url)
        c = self.srv.client()
        total = self.N_TARGET + self.N_OTHER + 1
        deadline = time.monotonic() + 60
        while c.execute("DBSIZE") >= total - 5000:
            if proc.poll() is not None or time.monotonic() > deadline:
                self.fail("the clear finished before it could be paused")
            time.sleep(0.002)
        c.execute("CLIENT", "PAUSE", 2500, "WRITE")
        c.close()
        reported, uncertain = self.check_partial(proc, args, self.N_TARGET + self.N_OTHER)
        self.assertIn("timed out", self.audit_lines()[-1]["detail"])
        harness.wait_for(lambda: not harness.redis_stalled(self.srv.port), timeout=15)  # the pause ends
        gone = self.N_TARGET + self.N_OTHER - self.count()
        self.assertGreaterEqual(gone, reported)
        self.assertLessEqual(gone - reported, uncertain)
        rc, out, err, _ = self.run_at(["clear", "all", "--yes", "--json"], redis_url=self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], self.N_TARGET + self.N_OTHER - gone)
        self.assertEqual(self.count(), 0)
        self.assertEqual(self.count("model:*"), 1, "clear all touches affinities only")

    def interrupt_while_deleting(self, proc, sig, total):
        """Once the clear has deleted some keys: stop it (SIGSTOP), send sig,
        let it go on. The signal is handled before its next batch starts."""
        c = self.srv.client()
        try:
            deadline = time.monotonic() + 60
            while c.execute("DBSIZE") > total - 2000:
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.fail("the clear finished before it could be interrupted")
                time.sleep(0.002)
            proc.send_signal(signal.SIGSTOP)
            left = c.execute("DBSIZE")
            self.assertGreater(left, 1, "the clear was not stopped in time")
            proc.send_signal(sig)
            proc.send_signal(signal.SIGCONT)
        finally:
            c.close()

    def test_clears_interrupted_between_batches(self):
        """Ctrl-C, or the SSH session dropping (SIGHUP), while a clear runs: it
        stops before its next batch, says exactly how many keys it deleted, the
        audit log gets that outcome, and running it again finishes the job."""
        runs = [(signal.SIGINT, ["clear", "all", "--yes", "--json"], self.N_TARGET + self.N_OTHER),
                (signal.SIGHUP, ["clear", "provider", "prov-target", "--yes", "--json"], self.N_TARGET)]
        for sig, args, targets in runs:
            self.seed()
            total = self.count("*")
            proc = self.spawn_at(args, self.url)
            self.interrupt_while_deleting(proc, sig, total)
            out, err = proc.communicate(timeout=60)
            xs.assert_clean(self, args, out, err)
            err = err.decode()
            self.assertEqual(proc.returncode, 128 + sig, err)
            self.assertEqual(out, b"", "no success document for an interrupted clear")
            m = re.search(r"interrupted: (\d+) keys deleted, the rest not; run it again to finish", err)
            self.assertTrue(m, err)
            reported = int(m.group(1))
            self.assertEqual(total - self.count("*"), reported, "the count is exact between batches")
            self.assertGreater(reported, 0)
            self.assertLess(reported, targets)
            audit = self.audit_lines()
            self.assertEqual((audit[-1]["outcome"], audit[-1]["count"]), ("interrupted", reported))
            rc, out, err, _ = self.run_at(args, redis_url=self.url)
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["count"], targets - reported)
            self.assertEqual(self.count("*"), total - targets)


class ClearsRefusedMidway(FaultBase):
    """A server that answers, but refuses some deletes: the ACL lets the
    clear's user write only the keys named a-* (%W~), read everything. The
    reply comes back, so the clear knows exactly what it did."""

    EXTRA_ENV = {"ENCRYPTION_KEY": FAST_KEY}

    def setUp(self):
        super().setUp()
        xs.need_redis_server()
        self.srv = xs.start_redis(self, self.tmp, "redis")
        c = self.srv.client()
        c.pipeline([("SETEX", "cache_affinity:%s-%03d:CLAUDE:gm-1" % (half, i), 900, affinity("k", "prov-x"))
                    for half in "ab" for i in range(50)])
        c.execute("ACL", "SETUSER", "clearer", "on", ">pw", "%R~*", "%W~cache_affinity:a-*", "+@all")
        c.close()
        self.env = {"REDIS_URL": "redis://clearer:pw@127.0.0.1:%d/0" % self.srv.port}

    def left(self):
        c = self.srv.client()
        try:
            return len(c.keys("cache_affinity:a-*")), len(c.keys("cache_affinity:b-*"))
        finally:
            c.close()

    def test_clear_provider_refused_part_way_reports_exactly(self):
        rc, out, err, _ = self.run_at(["clear", "provider", "prov-x", "--yes", "--json"], env=self.env)
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "", "no success document for a failed clear")
        a_left, b_left = self.left()
        self.assertEqual(b_left, 50, "a key the server refused to delete is still there")
        m = re.search(r"stopped part-way: (\d+) keys deleted, the rest not \(Redis [^)]*(NOPERM|permission)", err)
        self.assertTrue(m, "an error reply is no lost reply: the clear knows what it did: %r" % err)
        self.assertEqual(int(m.group(1)), 50 - a_left, "the count is exact")
        audit = self.audit_lines()
        self.assertEqual((audit[-1]["outcome"], audit[-1]["count"]), ("failed", 50 - a_left))

    def test_clear_provider_unlink_refused_inside_the_script(self):
        """EVAL allowed, UNLINK not: the script meets the refusal at its
        first delete and says so; nothing is uncertain."""
        c = self.srv.client()
        c.execute("ACL", "SETUSER", "nounlink", "on", ">pw", "~*", "+@all", "-unlink", "-del")
        c.close()
        env = {"REDIS_URL": "redis://nounlink:pw@127.0.0.1:%d/0" % self.srv.port}
        rc, out, err, _ = self.run_at(["clear", "provider", "prov-x", "--yes", "--json"], env=env)
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.left(), (50, 50))
        self.assertIn("stopped part-way: 0 keys deleted, the rest not (Redis ", err)
        self.assertIn("can't run this command", err)
        self.assertNotIn("lost", err)


class PostgresFaults(FaultBase):
    """PostgreSQL unreachable or hanging; Redis is the shared test server (db 12)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctx.psql("INSERT INTO users (id, username, email, password_hash) VALUES "
                     "('u-f-1', 'fault-user', 'f@example.com', 'x'); INSERT INTO api_keys "
                     "(id, user_id, key_hash, name) VALUES ('key-f-1', 'u-f-1', 'h', 'fault key');")

    def setUp(self):
        super().setUp()
        self.ctx.flushdb()
        self.ctx.r.pipeline([("SETEX", "cache_affinity:key-f-%d:CLAUDE:gm-1" % i, 900,
                              affinity("key-f-%d" % i, "prov-f")) for i in range(1, 4)])

    def check_pg_down(self, env, what):
        # list: raw ids, with a warning naming the reason
        rc, out, err, elapsed = self.run_at(["list"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("warning", err)
        self.assertIn("showing raw ids", err)
        self.assertIn(what, err)
        self.assertIn("key-f-1", out)
        self.assertIn("prov-f", out)
        rc, out, err, _ = self.run_at(["list", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        items = json.loads(out)["data"]["items"]
        self.assertEqual(sorted(i["affinity_key"] for i in items), ["key-f-1", "key-f-2", "key-f-3"])
        self.assertTrue(all(i["username"] is None for i in items))
        rc, out, err, _ = self.run_at(["stats", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        pg = json.loads(out)["data"]["postgres"]
        self.assertFalse(pg["available"])
        self.assertTrue(pg["error"])
        rc, out, err, _ = self.run_at(["mappings", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        # operations that need a user look-up say why they cannot run
        for args in (["affinity", "fault-user"], ["list", "fault-user"], ["clear", "user", "fault-user", "--yes"]):
            rc, out, err, _ = self.run_at(args, env=env)
            self.assertEqual(rc, 3, "%s: %s" % (args, err))
            self.assertRegex(err, r"cannot (resolve the user|resolve the keyword)")
            self.assertIn("PostgreSQL", err)
            self.assertIn(what, err)
        self.assertEqual(len(self.ctx.r.keys("cache_affinity:*")), 3, "nothing cleared")
        return elapsed

    def test_postgres_unreachable(self):
        port = xs.free_port()
        env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/at_none" % port}
        self.check_pg_down(env, "Connection refused")
        # refused at once: well under --timeout 10
        rc, out, err, elapsed = self.run_at(["list", "--timeout", "10"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("Connection refused", err)
        self.assertLess(elapsed, 5)

    def test_postgres_hanging(self):
        """A server that accepts connections and never answers."""
        port = xs.silent_server(self, backlog=64)
        env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/at_none" % port}
        t0 = time.monotonic()
        rc, out, err, elapsed = self.run_at(["list", "--timeout", "1"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("showing raw ids", err)
        self.assertRegex(err, r"timed out|timeout")
        self.assertLess(elapsed, 4, "the PostgreSQL connect is bounded by --timeout 1")
        rc, out, err, elapsed = self.run_at(["affinity", "fault-user", "--timeout", "1"], env=env)
        self.assertEqual(rc, 3, err)
        self.assertIn("cannot resolve the user", err)
        self.assertLess(time.monotonic() - t0, 15)


if __name__ == "__main__":
    harness.main()
