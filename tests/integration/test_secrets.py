"""Secrets (issue 5, "Safety"): passwords never leak, and the process holding
them cannot be inspected.

  * a password given with --redis / --database draws a warning that points to
    the environment or the env-file;
  * no password appears in any error message (authentication failures, ACL
    users, unreachable servers, sentinels, malformed URLs, libpq errors,
    env-file errors), nor in the audit log;
  * a password given on the command line is wiped from the process's argument
    memory, so /proc/<pid>/cmdline (ps, top) of a running aethertop does not
    show it;
  * it writes no core file: its core size limit is 0, soft and hard, even
    when started with an unlimited one (a non-dumpable process still dumps
    core where fs.suid_dumpable is 2, as systemd-coredump and apport set it);
  * the process is non-dumpable: another process of the same (unprivileged)
    user cannot read its /proc/<pid>/environ, where REDIS_URL and
    DATABASE_URL passwords live, while a dumpable process of that user can
    (the control that proves the check works). As root the check runs both
    processes as `nobody`;
  * no password, and no derived Fernet key, is left in memory given back to
    malloc or in the program's static memory at exit: a build without
    sanitizers runs with freecheck.c preloaded, which reports such blocks.

The private Redis requires a password (requirepass) and has an ACL user.
"""

import json
import os
import pwd
import resource
import shutil
import socket
import subprocess
import tempfile
import time

import extra_servers as xs
import harness
import test_valgrind

REDIS_PW = "RedisPw-3c1f9e-topsecret"
ACL_PW = "AclPw-77a0b2-topsecret"
WRONG_PW = "WrongPw-5d2e-topsecret"
PG_PW = "PgPw-9b8c7d-topsecret"
CMD_PW = "CmdlinePw-e4f5a6-topsecret"
ALL_PW = (REDIS_PW, ACL_PW, WRONG_PW, PG_PW, CMD_PW)


class SecretsTest(harness.IntegrationTest):
    REDIS_DB = 13

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        xs.need_redis_server()
        cls.tmp = tempfile.mkdtemp(prefix="at-secrets-")
        os.chmod(cls.tmp, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.srv = xs.start_redis(cls, cls.tmp, "redis", class_level=True)
        c = cls.srv.client()
        c.execute("ACL", "SETUSER", "oncall", "on", ">" + ACL_PW, "~*", "&*", "+@all")
        c.execute("SETEX", "cache_affinity:key-1:CLAUDE:gm-1", 900, json.dumps(
            {"provider_id": "prov-1", "endpoint_id": "ep-1", "key_id": "pk-1",
             "expire_at": time.time() + 900, "request_count": 1}))
        c.execute("CONFIG", "SET", "requirepass", REDIS_PW)
        c.close()

    def setUp(self):
        self.audit = os.path.join(self.tmp, "audit-%s.log" % self._testMethodName)

    # ------------------------------------------------------------ helpers

    def url(self, user="", pw=REDIS_PW, port=None):
        cred = "%s:%s@" % (user, pw) if pw is not None else ""
        return "redis://%s127.0.0.1:%d/0" % (cred, port or self.srv.port)

    def run_at(self, args, env=None, expect_rc=None):
        rc, out, err = self.ctx.run_aethertop([str(a) for a in args] + ["--audit-log", self.audit],
                                              env=env, binary=True)
        xs.assert_clean(self, args, out, err)
        out, err = out.decode(), err.decode()
        for pw in ALL_PW:
            self.assertNotIn(pw, out, "password in stdout of %s" % args)
            self.assertNotIn(pw, err, "password in stderr of %s" % args)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "%s: stderr %r" % (args, err))
        return rc, out, err

    # ------------------------------------------------------------ warnings

    def test_password_on_command_line_warns(self):
        # the password in user:PASSWORD@, or in the query (redis-py reads
        # ?password=, its name percent-encoded too)
        for flag, value in (("--redis", self.url()), ("--redis", self.url(user="oncall", pw=ACL_PW)),
                            ("--redis", self.url(pw=None) + "?password=" + REDIS_PW),
                            ("--redis", self.url(pw=None) + "?pass%77ord=" + REDIS_PW)):
            rc, out, err = self.run_at(["list", "--json", flag, value], expect_rc=0)
            self.assertIn("warning", err)
            self.assertIn("command line", err)
            self.assertRegex(err, r"environment|--env-file|env-file")
            self.assertEqual(json.loads(out)["data"]["meta"]["total"], 1)
        pg = self.ctx.database_url.replace("postgresql://postgres@", "postgresql://postgres:%s@" % PG_PW)
        rc, out, err = self.run_at(["list", "--json", "--database", pg], env={"REDIS_URL": self.url()},
                                   expect_rc=0)
        self.assertIn("DATABASE_URL", err)
        self.assertRegex(err, r"environment|env-file")
        # a keyword string or a URL query parameter holding a password warns too
        for value in ("host=127.0.0.1 password = %s" % PG_PW, "host=127.0.0.1 password='a\\'%s'" % PG_PW,
                      self.ctx.database_url + "?pass%%77ord=%s" % PG_PW,
                      self.ctx.database_url + "?sslpassword=%s" % PG_PW):
            rc, out, err = self.run_at(["list", "--json", "--database", value], env={"REDIS_URL": self.url()},
                                       expect_rc=0)
            self.assertIn("DATABASE_URL", err, value)
            self.assertIn("command line", err, value)
        # from the environment: no warning
        rc, out, err = self.run_at(["list", "--json"], env={"REDIS_URL": self.url()}, expect_rc=0)
        self.assertNotIn("warning", err)
        rc, out, err = self.run_at(["list", "--json", "--database", "host=127.0.0.1 dbname=password"],
                                   env={"REDIS_URL": self.url()}, expect_rc=0)
        self.assertNotIn("command line", err)

    # ------------------------------------------------------------ error messages

    def test_no_password_in_error_messages(self):
        cases = [
            # (env, args, expected rc, a phrase of the reason)
            ({"REDIS_URL": self.url(pw=WRONG_PW)}, ["list"], 3, "authentication failed"),
            ({"REDIS_URL": self.url(user="oncall", pw=WRONG_PW)}, ["list"], 3, "authentication failed"),
            ({"REDIS_URL": self.url(user="nobody-here", pw=ACL_PW)}, ["stats"], 3, "authentication failed"),
            ({"REDIS_URL": self.url(pw=None)}, ["list"], 3, "NOAUTH"),
            ({"REDIS_URL": None, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.srv.port),
              "REDIS_PASSWORD": WRONG_PW}, ["list"], 3, "authentication failed"),
            ({"REDIS_URL": self.url(pw=REDIS_PW, port=xs.free_port())}, ["list"], 3, "cannot connect"),
            ({"REDIS_URL": None, "REDIS_SENTINEL_HOSTS": "127.0.0.1:%d" % xs.free_port(),
              "REDIS_PASSWORD": REDIS_PW}, ["list"], 3, "sentinel"),
            ({"REDIS_URL": "redis://:%s@127.0.0.1:notaport/0" % REDIS_PW}, ["list"], 2, "REDIS_URL"),
            ({"REDIS_URL": "redis://:%s@127.0.0.1/notadb" % REDIS_PW}, ["list"], 2, "REDIS_URL"),
            ({"REDIS_URL": "rediss://user:%s@" % REDIS_PW}, ["list"], 2, "REDIS_URL"),
            ({"REDIS_URL": "redis://:%s@[::1/0" % REDIS_PW}, ["list"], 2, "REDIS_URL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:%d/x"
              % (PG_PW, xs.free_port())}, ["affinity", "someone"], 3, "PostgreSQL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:99999/x" % PG_PW},
             ["list"], 2, "DATABASE_URL"),
            # a password holding a '/' (read as SQLAlchemy reads it: up to the
            # first '@'; libpq's URI parser took its tail for the port)
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres:%s/x@127.0.0.1:%d/db"
              % (PG_PW, xs.free_port())}, ["affinity", "someone"], 3, "PostgreSQL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgres://@:%s@+h/db" % PG_PW},
             ["affinity", "someone"], 3, "PostgreSQL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres:%s@127.0.0.1/x?sslmode=bogus"
              % PG_PW}, ["affinity", "someone"], None, "sslmode"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://u:%s%%ZZ@127.0.0.1/x" % PG_PW},
             ["affinity", "someone"], None, ""),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "host=127.0.0.1 port=%d password=%s dbname=x"
              % (xs.free_port(), PG_PW)}, ["affinity", "someone"], 3, "PostgreSQL"),
            # libpq percent-decodes query keywords too, and sslpassword is as
            # secret: the display in "PostgreSQL <where>: ..." hides them
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/x?pass%%77ord=%s"
              % (xs.free_port(), PG_PW)}, ["affinity", "someone"], 3, "PostgreSQL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/x?sslpassword=%s"
              % (xs.free_port(), PG_PW)}, ["affinity", "someone"], 3, "PostgreSQL"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/x?pass%%77ord=%s%%ZZ"
              % (xs.free_port(), PG_PW)}, ["affinity", "someone"], 3, "PostgreSQL"),
            # an unencoded '@' in the password: SQLAlchemy would take the rest for the host
            ({"REDIS_URL": self.url(), "DATABASE_URL": "postgresql://app:Pa@%s@127.0.0.1:%d/db"
              % (PG_PW, xs.free_port())}, ["affinity", "someone"], 2, "%40"),
            ({"REDIS_URL": self.url(), "DATABASE_URL": "host=127.0.0.1 password='%s" % PG_PW},
             ["list"], 2, "DATABASE_URL"),
            ({"REDIS_URL": None, "DATABASE_URL": None, "DB_HOST": "127.0.0.1",
              "DB_PORT": str(xs.free_port()), "DB_PASSWORD": PG_PW, "REDIS_PASSWORD": REDIS_PW,
              "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.srv.port)}, ["affinity", "x"], 3, "PostgreSQL"),
        ]
        for env, args, want_rc, phrase in cases:
            rc, out, err = self.run_at(args, env=env)
            if want_rc is not None:
                self.assertEqual(rc, want_rc, "%s with %s: %r" % (args, env, err))
            else:
                self.assertNotEqual(rc, 0, "%s with %s" % (args, env))
            self.assertIn(phrase, err, "%s with %s" % (args, env))
            self.assertLessEqual(len(err.strip().splitlines()), 2, err)

    def test_auth_refusal_quoting_the_password_is_not_shown(self):
        """A server that does not know AUTH (renamed away, a proxy) answers
        "ERR unknown command 'AUTH', with args beginning with: 'PASSWORD'":
        the reason is shown without the arguments it quotes."""
        srv = xs.start_redis(self, self.tmp, "redis-noauth", args=["--rename-command", "AUTH", ""])
        long_pw = WRONG_PW + "-" + "p" * 150       # Redis cuts what it quotes: a prefix only
        for user, pw in (("", WRONG_PW), ("oncall", ACL_PW), ("", long_pw)):
            with self.subTest(user=user, pw=pw[:20]):
                rc, out, err = self.run_at(["stats"], env={"REDIS_URL": self.url(user=user, pw=pw, port=srv.port)},
                                           expect_rc=3)
                self.assertRegex(err, r"^aethertop: Redis 127\.0\.0\.1:%d: authentication failed: ERR unknown command"
                                 % srv.port)
                self.assertNotIn(pw[:12], err)
                self.assertEqual(len(err.splitlines()), 1, err)

    def test_auth_refusal_echoing_the_password_unquoted_is_not_shown(self):
        """A proxy may echo the password without quotes: no piece of it is
        shown, not even one that runs past the 120 characters kept, nor the
        start of the password at the end of a reply the proxy cut."""
        import threading
        pw = "hunter2secretpassword"

        def fake_server(reply):
            lsock = socket.socket()
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(8)
            self.addCleanup(lsock.close)

            def serve():
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except OSError:
                        return
                    conn.settimeout(5)
                    try:
                        conn.recv(65536)
                        conn.sendall(reply)
                    except OSError:
                        pass
                    conn.close()
            threading.Thread(target=serve, daemon=True).start()
            return lsock.getsockname()[1]

        # the password starts at character 117 of the reason and runs past 120
        long_reply = b"-ERR proxy says " + b"x" * 100 + b" " + pw.encode() + b" refused 'AUTH'\r\n"
        cut_reply = b"-ERR proxy refused hunter2sec\r\n"
        for reply, shown in ((long_reply, "authentication failed: ERR proxy says xxx"),
                             (cut_reply, "authentication failed: ERR proxy refused ***")):
            port = fake_server(reply)
            rc, out, err = self.run_at(["stats", "--timeout", "3"],
                                       env={"REDIS_URL": "redis://:%s@127.0.0.1:%d/0" % (pw, port)}, expect_rc=3)
            self.assertIn(shown, err)
            self.assertNotIn("hunt", err)
            self.assertNotIn("\ufffd", err)
            self.assertLessEqual(err.count("…"), 1, err)   # one mark, cut twice or not

    def test_env_file_errors_hide_values(self):
        path = os.path.join(self.tmp, "gateway.env")
        with open(path, "w") as f:
            f.write("REDIS_URL=redis://:%s@127.0.0.1:%d/0\nDB_PASSWORD=\"%s\n" % (REDIS_PW, self.srv.port, PG_PW))
        # skipped (as python-dotenv skips it) with a warning that names the line, not the value
        rc, out, err = self.run_at(["list", "--env-file", path], env={"REDIS_URL": None}, expect_rc=0)
        self.assertIn("gateway.env:2: unterminated double-quoted value", err)
        with open(path, "w") as f:
            f.write("REDIS_URL=redis://:%s@127.0.0.1:%d/0\nnot a setting %s\n" % (REDIS_PW, self.srv.port, PG_PW))
        rc, out, err = self.run_at(["list", "--env-file", path], env={"REDIS_URL": None}, expect_rc=0)
        self.assertIn("gateway.env:2: expected KEY=value", err)
        with open(path, "w") as f:
            f.write("REDIS_URL=redis://oncall:%s@127.0.0.1:%d/0\n" % (ACL_PW, self.srv.port))
        rc, out, err = self.run_at(["list", "--json", "--env-file", path], env={"REDIS_URL": None},
                                   expect_rc=0)
        self.assertNotIn("warning", err)

    # ------------------------------------------------------------ audit log

    def test_audit_log_holds_no_password(self):
        c = self.srv.client()
        c.execute("AUTH", REDIS_PW)
        c.execute("SETEX", "cache_affinity:key-2:CLAUDE:gm-1", 900, json.dumps({"provider_id": "prov-2"}))
        c.close()
        env = {"REDIS_URL": self.url(user="oncall", pw=ACL_PW), "SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22"}
        self.run_at(["clear", "provider", "prov-2", "--yes"], env=env, expect_rc=0)
        self.run_at(["clear", "mapping", "x", "--yes"], env=dict(env, REDIS_URL=self.url()), expect_rc=0)
        # a failing clear (wrong password) is not run, so it writes nothing
        self.run_at(["clear", "all", "--yes"], env=dict(env, REDIS_URL=self.url(pw=WRONG_PW)), expect_rc=3)
        with open(self.audit, encoding="utf-8") as f:
            text = f.read()
        for pw in ALL_PW:
            self.assertNotIn(pw, text)
        lines = harness.audit_records(text)
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0]["redis"], "127.0.0.1:%d/0" % self.srv.port)
        self.assertEqual(lines[0]["ssh_connection"], "10.0.0.1 5555 10.0.0.2 22")
        self.assertEqual(lines[0]["user"], pwd.getpwuid(os.geteuid()).pw_name)
        self.assertEqual(lines[0]["count"], 1)

    # ------------------------------------------------------------ the running process

    def pause_redis(self, ms):
        c = self.srv.client()
        c.execute("AUTH", REDIS_PW)
        c.execute("CLIENT", "PAUSE", ms, "ALL")
        c.close()

    def demote(self):
        """preexec_fn: become `nobody` when running as root (None otherwise)."""
        if os.geteuid() != 0:
            return None
        nobody = pwd.getpwnam("nobody")

        def fn():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        return fn

    def spawn(self, argv, env):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=self.demote(), cwd="/")
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.communicate()))
        return proc

    def read_as_same_user(self, path):
        """Try to read `path` as the user the spawned processes run as.
        Returns (ok, bytes-or-error)."""
        proc = subprocess.run(["cat", path], capture_output=True, preexec_fn=self.demote(), timeout=10)
        return proc.returncode == 0, proc.stdout if proc.returncode == 0 else proc.stderr

    def test_cmdline_hides_password_and_process_is_not_dumpable(self):
        env = self.ctx.env({"REDIS_URL": None, "DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:%d/x"
                            % (PG_PW, xs.free_port()),
                            # LeakSanitizer cannot stop the world of a non-dumpable
                            # process it may not ptrace; this run is killed anyway
                            "ASAN_OPTIONS": "detect_leaks=0",
                            # a HOME the demoted user may read (no config file there)
                            "HOME": self.tmp, "XDG_CONFIG_HOME": self.tmp, "XDG_STATE_HOME": self.tmp})
        self.pause_redis(6000)
        argv = [harness.AETHERTOP, "list", "--timeout", "6", "--redis",
                "redis://oncall:%s@127.0.0.1:%d/0" % (CMD_PW, self.srv.port)]
        proc = self.spawn(argv, env)
        control = self.spawn(["sleep", "30"], env)
        # connected to Redis: past reading its settings (and hiding the password)
        harness.wait_connected(proc, self.srv.port, timeout=5)
        if proc.poll() is not None:
            self.fail("aethertop should be waiting for the paused Redis; it exited %s: %r"
                      % (proc.returncode, proc.communicate()[1][-2000:]))
        pid = proc.pid
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
        self.assertNotIn(CMD_PW.encode(), cmdline, "password visible in /proc/%d/cmdline" % pid)
        self.assertIn(b"oncall", cmdline, "only the password is hidden")
        self.assertIn(b"list", cmdline)
        # non-dumpable: the same unprivileged user cannot read its environment
        ok, data = self.read_as_same_user("/proc/%d/environ" % pid)
        self.assertFalse(ok, "another process of the same user read aethertop's environment")
        self.assertIn(b"Permission denied", data)
        if os.geteuid() == 0:
            # the kernel gives the /proc files of a non-dumpable task to root
            self.assertEqual(os.stat("/proc/%d/environ" % pid).st_uid, 0)
            self.assertEqual(os.stat("/proc/%d/environ" % control.pid).st_uid, pwd.getpwnam("nobody").pw_uid)
        # control: a dumpable process of that user is readable, so the check is real
        ok, data = self.read_as_same_user("/proc/%d/environ" % control.pid)
        self.assertTrue(ok, "control process environ unreadable: %r" % data)
        self.assertIn(PG_PW.encode(), data)
        proc.kill()
        proc.communicate()
        control.kill()
        control.communicate()
        # let the pause end for the next test
        harness.wait_for(lambda: not harness.redis_stalled(self.srv.port, password=REDIS_PW), timeout=15)

    def test_no_core_file_limit(self):
        """The build users run (no sanitizers: ASan lowers the soft limit
        itself), started with the largest core size limit it may have,
        runs with 0, soft and hard."""
        binary = test_valgrind.plain_binary()
        env = self.ctx.env({"REDIS_URL": self.url(), "ASAN_OPTIONS": "detect_leaks=0",
                            "HOME": self.tmp, "XDG_CONFIG_HOME": self.tmp, "XDG_STATE_HOME": self.tmp})
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        self.assertNotEqual(hard, 0, "the test cannot start a process allowed to dump core")
        self.pause_redis(6000)
        proc = subprocess.Popen([binary, "list", "--timeout", "6"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (hard, hard)))
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.communicate()))
        harness.wait_connected(proc, self.srv.port, timeout=5)
        with open("/proc/%d/limits" % proc.pid) as f:
            line = [l for l in f if l.startswith("Max core file size")]
        self.assertEqual(line[0].split()[4:6], ["0", "0"], line[0])
        proc.kill()
        proc.communicate()
        harness.wait_for(lambda: not harness.redis_stalled(self.srv.port, password=REDIS_PW), timeout=15)

    def test_cmdline_hides_database_passwords_in_every_form(self):
        """--database passwords that a plain 'password=' search misses: blanks
        around '=', a quoted value with an escaped quote, a percent-encoded
        query keyword, sslpassword."""
        env = self.ctx.env({"REDIS_URL": None, "DATABASE_URL": None, "ASAN_OPTIONS": "detect_leaks=0",
                            "HOME": self.tmp, "XDG_CONFIG_HOME": self.tmp, "XDG_STATE_HOME": self.tmp})
        port = xs.free_port()
        values = ["host=127.0.0.1 port=%d password = %s dbname=x" % (port, CMD_PW),
                  "host=127.0.0.1 password='a\\'%s' dbname=x" % CMD_PW,
                  "postgresql://postgres@127.0.0.1:%d/x?pass%%77ord=%s" % (port, CMD_PW),
                  "postgresql://postgres@127.0.0.1:%d/x?sslpassword=%s&sslmode=disable" % (port, CMD_PW)]
        self.pause_redis(6000)
        procs = [self.spawn([harness.AETHERTOP, "list", "--timeout", "6", "--redis", self.url(),
                             "--database", value], env) for value in values]
        for proc in procs:
            harness.wait_connected(proc, self.srv.port, timeout=5)
        for value, proc in zip(values, procs):
            if proc.poll() is not None:
                self.fail("aethertop should be waiting for the paused Redis; it exited %s: %r"
                          % (proc.returncode, proc.communicate()[1][-2000:]))
            with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
                cmdline = f.read()
            self.assertNotIn(CMD_PW.encode(), cmdline, "password visible in /proc/PID/cmdline for %r" % value)
            self.assertIn(b"127.0.0.1", cmdline, "only the password is hidden")
        for value, proc in zip(values, procs):
            proc.kill()
            err = proc.communicate()[1].decode()
            self.assertIn("DATABASE_URL", err, "no command-line warning for %r" % value)
            self.assertNotIn(CMD_PW, err)
        # let the pause end for the next test
        harness.wait_for(lambda: not harness.redis_stalled(self.srv.port, password=REDIS_PW), timeout=15)

    # ------------------------------------------------------------ memory given back

    def freecheck(self, args, needles, env):
        """Run the build without sanitizers with freecheck.c preloaded, looking
        for the byte strings `needles`; returns (stdout, the findings)."""
        lib = getattr(type(self), "freecheck_lib", None)
        if lib is None:
            cc = shutil.which("cc") or shutil.which("gcc")
            self.assertIsNotNone(cc, "no C compiler for freecheck.c")
            lib = os.path.join(self.tmp, "freecheck.so")
            subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", lib,
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "freecheck.c"), "-ldl"],
                           check=True, capture_output=True, timeout=120)
            type(self).freecheck_lib = lib
        report = os.path.join(self.tmp, "freecheck-%s.txt" % self._testMethodName)
        if os.path.exists(report):
            os.remove(report)
        env = dict(env, LD_PRELOAD=lib, FREECHECK_REPORT=report,
                   FREECHECK_NEEDLES=",".join(n.hex() for n in needles))
        rc, out, err = harness.run([test_valgrind.plain_binary()] + args, env=env, timeout=60)
        self.assertEqual(rc, 0, "%s: %s" % (args, err))
        found = ""
        if os.path.exists(report):
            with open(report, encoding="utf-8") as f:
                found = f.read()
        return out, found

    def test_no_password_left_in_freed_memory(self):
        env = self.ctx.env({"REDIS_URL": None, "HOME": self.tmp, "XDG_CONFIG_HOME": self.tmp})
        # the config file: its stdio buffer, the file's text, the URL kept
        # for main; AUTH's command and the output buffer that sent it
        config = os.path.join(self.tmp, "freecheck.ini")
        with open(config, "w") as f:
            f.write("[connection]\nredis = %s\n" % self.url())
        os.chmod(config, 0o600)
        out, found = self.freecheck(["list", "--json", "--config", config], [REDIS_PW.encode()], env)
        self.assertEqual(found, "", "the Redis password stayed in memory given back to malloc")
        self.assertEqual(json.loads(out)["status"], "ok")
        # an env-file over 4 KiB (its read buffer grows) with a password at
        # each end (the first is what a realloc leaves behind, the last what
        # the stdio buffer keeps); an ACL user's AUTH
        path = os.path.join(self.tmp, "freecheck.env")
        with open(path, "w") as f:
            f.write("REDIS_URL=%s\n" % self.url(user="oncall", pw=ACL_PW))
            f.write("".join("# padding %04d %s\n" % (i, "." * 60) for i in range(120)))
            f.write("# was REDIS_URL=%s\n" % self.url(user="oncall", pw=ACL_PW))
        out, found = self.freecheck(["list", "--json", "--env-file", path], [ACL_PW.encode()], env)
        self.assertEqual(found, "", "the Redis password stayed in memory given back to malloc")
        self.assertEqual(json.loads(out)["status"], "ok")

    def test_no_fernet_key_kept(self):
        """Masking keys leaves no copy of the derived Fernet key in static
        memory (a cache may keep a digest of it only) nor in freed memory."""
        self.ctx.flushdb()
        self.ctx.seed(users=3, affinities=6, api_keys=6)
        key = harness.fernet_key()
        out, found = self.freecheck(["list", "--json"], [key[:16], key[16:]],
                                    self.ctx.env({"HOME": self.tmp, "XDG_CONFIG_HOME": self.tmp}))
        prefixes = [i["user_api_key_prefix"] for i in json.loads(out)["data"]["items"]]
        self.assertTrue(any(p and "********" in p for p in prefixes), "no key was masked: %s" % out[:500])
        self.assertEqual(found, "", "the derived Fernet key stayed in memory")


if __name__ == "__main__":
    harness.main()
