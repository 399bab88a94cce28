"""valgrind (issue 5, "Fuzzing and sanitizers"): the commands run under
valgrind memcheck against a build WITHOUT sanitizers, and must show no
memory error and no definite leak:

    valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9

The data is simulated gateway traffic (aethertop-sim seed) plus the hostile
rows and records of test_hostile.py, so the error paths for bad records and
secrets that do not decrypt run too. Commands: list (human, --json, keyword),
affinity, stats, metrics, mappings, config, the clears, a rediss:// list,
and the failure paths (Redis unreachable, PostgreSQL unreachable, a
configuration error).

The non-sanitized aethertop comes from AT_PLAIN_BUILD_DIR when set; else, when
AT_BUILD_DIR is itself a build without sanitizers, from there; else the test
configures and builds one into build/valgrind (incremental after the first
time). Skipped (exit 77, and it says so) only when valgrind is not installed.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import extra_servers as xs
import harness
import test_hostile

VALGRIND = shutil.which("valgrind")
VG_ARGS = ["--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=9",
           "--num-callers=30", "--child-silent-after-fork=yes"]


def is_sanitized(binary):
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return "sanitizers:" in proc.stdout


def plain_binary():
    """Path of an aethertop built without sanitizers (building one if needed)."""
    explicit = os.environ.get("AT_PLAIN_BUILD_DIR")
    if explicit:
        path = os.path.join(explicit, "aethertop")
        if not os.access(path, os.X_OK):
            raise AssertionError("AT_PLAIN_BUILD_DIR=%s holds no aethertop" % explicit)
        if is_sanitized(path):
            raise AssertionError("%s is built with sanitizers; valgrind needs a plain build" % path)
        return path
    if os.access(harness.AETHERTOP, os.X_OK) and not is_sanitized(harness.AETHERTOP):
        return harness.AETHERTOP
    build = os.path.join(harness.SOURCE_DIR, "build", "valgrind")
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, ".lock"), "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)   # one build at a time (ctest -j)
        for argv in (["cmake", "-S", harness.SOURCE_DIR, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                      "-DAETHERTOP_SANITIZE=OFF", "-DAETHERTOP_TESTS=OFF", "-DAETHERTOP_NLS=OFF"],
                     ["cmake", "--build", build, "-j2", "--target", "aethertop"]):
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise AssertionError("%s failed:\n%s%s" % (" ".join(argv), proc.stdout[-3000:],
                                                            proc.stderr[-3000:]))
    path = os.path.join(build, "aethertop")
    if is_sanitized(path):
        raise AssertionError("%s came out with sanitizers" % path)
    return path


class ValgrindTest(harness.IntegrationTest):
    REDIS_DB = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.binary = plain_binary()
        cls.tmp = tempfile.mkdtemp(prefix="at-valgrind-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.ctx.seed(users=40, affinities=1500, providers=6, models=12, api_keys=80, mappings=60,
                     usage=500)
        cls.ctx.psql(test_hostile.pg_sql())
        cmds = [("SETEX", k, 3600, v) for k, v, _ in test_hostile.records()]
        for k, v, ttl in test_hostile.MAPPINGS:
            cmds.append(("SETEX", k, ttl, v) if ttl else ("SET", k, v))
        for reply in cls.ctx.r.pipeline(cmds):
            if isinstance(reply, harness.RedisError):
                raise reply

    def vg(self, args, env=None, expect_rc=0, timeout=240):
        """Run the plain aethertop under valgrind; check its report."""
        log = os.path.join(self.tmp, "vg-%d.log" % len(os.listdir(self.tmp)))
        argv = [VALGRIND] + VG_ARGS + ["--log-file=" + log, self.binary] + [str(a) for a in args]
        argv += ["--timeout", "30", "--audit-log", os.path.join(self.tmp, "audit.log")]
        rc, out, err = harness.run(argv, env=self.ctx.env(env), timeout=timeout)
        with open(log, errors="replace") as f:
            report = f.read()
        summary = re.search(r"ERROR SUMMARY: (\d+) errors", report)
        self.assertTrue(summary, "no valgrind summary for %s:\n%s" % (args, report[-3000:]))
        self.assertNotEqual(rc, 9, "valgrind found errors in %s:\n%s" % (args, report[-8000:]))
        self.assertEqual(summary.group(1), "0", "valgrind errors in %s:\n%s" % (args, report[-8000:]))
        lost = re.search(r"definitely lost: ([\d,]+) bytes", report)
        if lost:
            self.assertEqual(lost.group(1), "0", "definite leak in %s:\n%s" % (args, report[-8000:]))
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "%s: %s" % (args, err[-2000:]))
        return out, err

    def test_1_read_commands(self):
        out, err = self.vg(["list", "--json", "--limit", "1000"])
        self.assertGreater(json.loads(out)["data"]["meta"]["total"], 1000)
        self.assertIn("unreadable affinities skipped", err)
        self.vg(["list", "--limit", "50"])
        self.vg(["list", test_hostile.OSC52 + "mallory"])
        self.vg(["list", "--json", "claude"])
        self.vg(["affinity", "h-u-osc"])
        self.vg(["affinity", "--json", "h-u-rtl"])
        self.vg(["affinity", "no-such-user"], expect_rc=1)
        out, err = self.vg(["stats", "--json"])
        self.assertGreater(json.loads(out)["data"]["unreadable_skipped"], 0)
        self.vg(["stats"])
        self.vg(["metrics"])
        out, err = self.vg(["mappings", "--json"])
        self.assertGreater(json.loads(out)["data"]["total_keys"], 0)
        self.vg(["mappings"])
        self.vg(["config"])

    def test_2_clears(self):
        self.vg(["clear", "provider", "h-p-1", "--yes", "--json"])
        self.vg(["clear", "user", "h-u-bel", "--yes"])
        self.vg(["clear", "affinity", "h-k-ghost", "h-e-ghost", "h-g-ghost", "CLAUDE", "--yes"])
        self.vg(["clear", "mapping", test_hostile.OSC52 + "alias", "--yes", "--json"])
        self.vg(["clear", "provider-mapping", "h-p-1", "h-g-1", "--yes"])
        self.vg(["clear", "all", "--yes"])
        self.vg(["clear", "mappings", "--yes", "--json"])
        self.vg(["clear", "all"], expect_rc=4)   # stdin not a terminal, no --yes
        self.vg(["clear", "all", "--yes", "--read-only"], expect_rc=4)

    def test_3_failure_paths(self):
        dead = "redis://127.0.0.1:%d/0" % xs.free_port()
        self.vg(["list", "--redis", dead], expect_rc=3)
        self.vg(["clear", "all", "--yes", "--redis", dead], expect_rc=3)
        self.vg(["list", "--json"], env={"DATABASE_URL": "postgresql://postgres:pw@127.0.0.1:%d/x"
                                         % xs.free_port()})
        self.vg(["affinity", "x"], env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/x"
                                        % xs.free_port()}, expect_rc=3)
        self.vg(["list", "--redis", "redis://:secret@127.0.0.1:notaport/0"], expect_rc=2)
        self.vg(["list", "--env-file", os.path.join(self.tmp, "missing.env")], expect_rc=2)
        self.vg(["bogus-command"], expect_rc=2)
        self.vg(["--help"])
        self.vg(["--version"])

    def test_4_tls(self):
        harness.need_tools("openssl", "redis-server")
        certs = xs.make_certs(self.tmp)
        srv = xs.start_redis(self, self.tmp, "tls", kind="tls", tls=certs,
                             args=["--tls-auth-clients", "optional"])
        url = "rediss://localhost:%d/0" % srv.port
        self.vg(["list", "--json", "--redis", url, "--redis-ca", certs["ca"]])
        self.vg(["list", "--redis", url], expect_rc=3)     # untrusted certificate
        self.vg(["stats", "--redis", url, "--insecure"])


if __name__ == "__main__":
    if not VALGRIND:
        # scripts/test installs valgrind (scripts/deps): there a missing one fails
        if os.environ.get("AT_REQUIRE_SERVERS") == "1":
            sys.stderr.write("test_valgrind FAILED: valgrind is not installed "
                             "(scripts/deps installs it)\n")
            sys.exit(1)
        sys.stderr.write("test_valgrind SKIPPED: valgrind is not installed "
                         "(apt-get install valgrind)\n")
        sys.exit(harness.SKIP_EXIT)
    harness.main()
