"""The console when a server is lost (tmux screen tests, see
test_console_screen.py): Redis stopped under a running console (the last
data stays, marked STALE, with a banner saying what is down and when the
next attempt is), then restarted (recovery on its own); a Redis that
accepts connections but never answers (every wait bounded by --timeout, the
keys keep working meanwhile); PostgreSQL unreachable (PG down, banner, raw
ids instead of names).

This file starts its own redis-server on a free port (the shared test
server must not be stopped).
"""

import re
import shutil
import socket
import subprocess
import tempfile
import time

import harness
import test_console_screen as tcs
from extra_servers import free_port
from fixture import K_MAIN


class OwnRedis:
    """A throwaway redis-server of this test alone (no persistence)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="at-outage-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = harness.Redis(db=0, port=self.port, timeout=5)
                conn.execute("PING")
                return conn
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start on port %d" % self.port)
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class OutageTest(tcs.ConsoleTest):

    def setUp(self):
        harness.need_tools("redis-server")
        super().setUp()

    def test_redis_stopped_and_restarted(self):
        red = OwnRedis()
        self.addCleanup(red.cleanup)
        conn = red.start()
        tcs.load_fixture(conn, self.fx)
        conn.close()
        target = "127.0.0.1:%d/0" % red.port
        c = self.start("--delay", "1", "--timeout", "1",
                       redis_url="redis://127.0.0.1:%d/0" % red.port)
        c.wait("rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS))
        self.assertIn("Redis %s master" % target, c.lines()[0])

        red.stop()
        s = c.wait(re.compile("connection refused", re.I), timeout=20)
        banner = c.lines()[2]
        self.assertRegex(banner, r"(?i)^ Redis 127\.0\.0\.1:%d(/0)?: connection refused — retrying" % red.port)
        self.assertRegex(banner, r"showing data from \d\d:\d\d:\d\d \(STALE\)$")
        self.assertIn("STALE", c.lines()[0])
        # the last data stays on screen, and the keys keep working
        self.assertIn("rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS), s)
        self.assertIn("alice", s)
        c.keys("5")
        c.wait("cache_ttl_seconds")
        c.keys("1", "/")
        c.type(K_MAIN)
        c.wait("rows 1–3 of 3")
        c.keys("Escape")
        c.wait("rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS))
        # a clear while Redis is down fails with a message, nothing hangs
        c.keys("d")
        c.wait("Cannot count the keys", timeout=10)
        c.keys("Escape")
        c.wait("Cancelled")

        conn = red.start()                              # back, empty: reload the data
        tcs.load_fixture(conn, self.fx)
        conn.close()
        s = c.wait(lambda s: "STALE" not in s and "retrying" not in s, timeout=30)
        self.assertNotIn("onnection refused", s)
        self.assertRegex(c.lines()[0], r"updated \d\.\d s ago")
        c.wait("rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS))
        c.quit(self)

    def test_redis_that_never_answers(self):
        # accepts TCP connections (backlog) but never replies
        sink = socket.socket()
        sink.bind(("127.0.0.1", 0))
        sink.listen(64)
        self.addCleanup(sink.close)
        port = sink.getsockname()[1]
        # every refresh waits 10 s for the timeout; a key must be answered
        # well within that (5 s, generous on a slow machine), so one handled
        # only after a refresh gave up fails. (With --timeout 1 and a 1.5 s
        # bound the check neither told the two apart nor held on a slow machine.)
        c = self.start("--timeout", "10", redis_url="redis://127.0.0.1:%d/0" % port, wait=False)
        c.wait("retrying", timeout=40)
        self.assertIn("Redis 127.0.0.1:%d" % port, c.lines()[2])
        for view, text in (("5", "cache_ttl_seconds"), ("?", "Help  (Esc: back"), ("Escape", "cache_ttl_seconds")):
            c.keys(view)
            c.wait(text, timeout=5)
        c.quit(self)

    def test_postgres_unreachable(self):
        port = free_port()
        c = self.start(database_url="postgresql://postgres@127.0.0.1:%d/nowhere" % port,
                       env={"PGCONNECT_TIMEOUT": "2"})
        s = c.wait(lambda s: "PG down" in s and "rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS) in s,
                   timeout=20)
        banner = c.lines()[2]
        self.assertRegex(banner, r"^ PostgreSQL postgresql://postgres@127\.0\.0\.1:%d/nowhere: .*"
                                 r"— names and masked keys missing, retrying$" % port)
        self.assertNotIn("STALE", c.lines()[0])         # Redis data is current
        # rows are listed with raw ids (no names to show)
        self.assertIn("rows 1–%d of %d" % (tcs.LIVE_ROWS, tcs.LIVE_ROWS), s)
        self.assertIn(K_MAIN[:12], s)
        c.quit(self)


if __name__ == "__main__":
    harness.main()
