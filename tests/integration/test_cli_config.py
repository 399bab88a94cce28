"""Integration tests of aethertop's connection settings (SPEC section 1):
REDIS_URL / --redis / REDIS_HOST+PORT+PASSWORD, unix sockets, --env-file,
DATABASE_URL / DB_* / --database, precedence (flag > environment > env-file >
defaults), malformed settings (exit 2, one line naming the setting, never the
password), unreachable or silent servers (exit 3 within the timeout), and
PostgreSQL down (Redis-only commands go on with raw ids and a warning).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import extra_servers as xs
import fixture
import harness
from fixture import U_ALICE

PASSWORD = "S3cr3t p@ss:w/rd#1"       # needs percent-encoding in a URL
FAKE_PASSWORD = "Sup3rSecretPw"       # for malformed settings


# With --timeout 1, a command that meets a dead or silent server must give up
# well before the default 3 s timeout would: 1 s of waiting plus the start-up
# of a sanitizer build on a loaded 2-core machine.
BOUND_S = 3.5


class ConfigTest(harness.IntegrationTest):
    REDIS_DB = 5

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load(cls.ctx)
        cls.secrets = cls.fx.secret_strings() + [PASSWORD, urllib.parse.quote(PASSWORD, safe=""),
                                                  FAKE_PASSWORD]
        cls.tmp = tempfile.mkdtemp(prefix="at-config-")
        u = urllib.parse.urlsplit(cls.ctx.database_url)
        cls.pg_host, cls.pg_port, cls.pg_user = u.hostname, u.port, u.username
        cls.pg_db = u.path.lstrip("/")
        cls.pw_server = None

    @classmethod
    def tearDownClass(cls):
        if cls.pw_server is not None:
            cls.pw_server.terminate()
            try:
                cls.pw_server.wait(10)
            except subprocess.TimeoutExpired:
                cls.pw_server.kill()
                cls.pw_server.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        self.fx.load_redis(self.ctx)       # a failed test must not spoil the next one

    # ------------------------------------------------------------ helpers

    def run_raw(self, args, env, timeout=30):
        """aethertop with only the settings given in `env` (none inherited);
        ENCRYPTION_KEY unset unless `env` sets it."""
        e = {"ENCRYPTION_KEY": None, "XDG_STATE_HOME": os.path.join(self.tmp, "state")}
        e.update(env)
        t0 = time.monotonic()
        rc, out, err = harness.run([harness.AETHERTOP] + [str(a) for a in args],
                                   env=harness.program_env(None, None, e), timeout=timeout)
        elapsed = time.monotonic() - t0
        self.assertNoSanitizerReport(err, args)
        for s in self.secrets:
            self.assertNotIn(s, out, "secret in stdout of %s (env %s)" % (args, env))
            self.assertNotIn(s, err, "secret in stderr of %s (env %s)" % (args, env))
        return rc, out, err, elapsed

    def env_file(self, text, name=".env"):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def assert_fixture_list(self, rc, out, err, pg=True, what=""):
        """`list --json` answered from this test's Redis db (and PostgreSQL)."""
        self.assertEqual(rc, 0, "%s: stderr %s" % (what, err))
        doc = json.loads(out)
        items, _ = self.fx.expected_list(None, pg=pg)
        got = doc["data"]["items"]
        self.assertEqual(doc["data"]["meta"]["total"], len(items), what)
        self.assertEqual([(i["affinity_key"], i["expire_at"]) for i in got],
                         [(i["affinity_key"], i["expire_at"]) for i in items], what)
        for g, e in zip(got, items):
            self.assertEqual(g, e, what)
        return doc

    @staticmethod
    def warnings(err):
        """stderr's lines but the fixture's own "unreadable affinities" note."""
        return [l for l in err.strip().splitlines() if "unreadable" not in l]

    def assert_config_error(self, args, env, setting):
        rc, out, err, _ = self.run_raw(args, env)
        self.assertEqual(rc, 2, "%s %s: stderr %s" % (args, env, err))
        self.assertEqual(out, "")
        lines = [l for l in err.strip().splitlines() if "password on the command line" not in l]
        self.assertEqual(len(lines), 1, "one line: %r" % err)
        self.assertIn(setting, lines[0])
        return lines[0]

    def closed_redis(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (xs.free_port(), db)

    def good_redis(self):
        return self.ctx.redis_url

    # ----------------------------------------------------- Redis settings

    def test_redis_url_environment(self):
        rc, out, err, _ = self.run_raw(["list", "--json"], {"REDIS_URL": self.good_redis(),
                                                             "DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="REDIS_URL")

    def test_redis_flag_beats_environment(self):
        rc, out, err, _ = self.run_raw(["--redis", self.good_redis(), "list", "--json"],
                                       {"REDIS_URL": self.closed_redis(),
                                        "DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="--redis over REDIS_URL")
        # and the other way round: a bad flag is not rescued by a good environment
        rc, out, err, _ = self.run_raw(["--redis", self.closed_redis(), "--timeout", "1", "list"],
                                       {"REDIS_URL": self.good_redis()})
        self.assertEqual(rc, 3, err)

    def test_redis_url_beats_host_and_port(self):
        rc, out, err, _ = self.run_raw(["list", "--json"], {
            "REDIS_URL": self.good_redis(), "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(xs.free_port()), "DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="REDIS_URL over REDIS_HOST/PORT")

    def test_redis_host_and_port(self):
        # REDIS_HOST/REDIS_PORT address database 0: compare with what db 0 holds
        rc, out, err, _ = self.run_raw(["stats"], {
            "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(harness.REDIS_PORT)})
        self.assertEqual(rc, 0, err)
        self.assertIn("127.0.0.1:%d/0" % harness.REDIS_PORT, out)
        rc, out, err, _ = self.run_raw(["--timeout", "1", "stats"], {
            "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(xs.free_port())})
        self.assertEqual(rc, 3, err)

    def test_redis_url_at_sign_after_host(self):
        # the host part ends at the first '/' (urlparse): this '@' is no password's end
        url = self.good_redis() + "?client_name=ops@team"
        rc, out, err, _ = self.run_raw(["list", "--json"], {"REDIS_URL": url,
                                                             "DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="'@' in the query of REDIS_URL")

    def test_unix_socket(self):
        sock = os.environ.get("AT_TEST_REDIS_SOCKET")
        if not sock or not os.path.exists(sock):
            # scripts/test always starts Redis with a socket: there this fails
            if os.environ.get("AT_REQUIRE_SERVERS") == "1":
                self.fail("AT_TEST_REDIS_SOCKET is not set or not a socket: %r" % sock)
            self.skipTest("AT_TEST_REDIS_SOCKET not set")
        url = "unix://%s?db=%d" % (sock, self.ctx.redis_db)
        rc, out, err, _ = self.run_raw(["list", "--json"], {"REDIS_URL": url,
                                                             "DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="unix socket")
        rc, out, err, _ = self.run_raw(["--redis", url, "stats", "--json"],
                                       {"DATABASE_URL": self.ctx.database_url})
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["redis"]["dbsize"], len(self.fx.all_keys()))
        rc, out, err, _ = self.run_raw(["--timeout", "1", "list"],
                                       {"REDIS_URL": "unix://%s/no-such.sock?db=1" % self.tmp})
        self.assertEqual(rc, 3, err)

    # ------------------------------------------------------------ env file

    def test_env_file_syntax(self):
        path = self.env_file(
            "# the gateway's .env\n"
            "   # an indented comment\n"
            "\n"
            'REDIS_URL="%s"   # a comment after a quoted value\n'
            "DATABASE_URL='%s'\n"
            "ENCRYPTION_KEY=\n"
            "export APP_NAME=aether gateway # comment\n"
            "DB_HOST = nowhere.invalid\n"
            "QUOTED_HASH=\"a # not a comment\"\r\n"
            % (self.good_redis(), self.ctx.database_url))
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"], {})
        # an empty ENCRYPTION_KEY means the development default: masks are right
        self.assert_fixture_list(rc, out, err, what="env file")

    def test_env_file_encryption_key_and_precedence(self):
        path = self.env_file("REDIS_URL=%s\nDATABASE_URL=%s\nENCRYPTION_KEY=some-other-key\n"
                             % (self.good_redis(), self.ctx.database_url), "keyed.env")
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"], {})
        self.assertEqual(rc, 0, err)
        items = json.loads(out)["data"]["items"]
        self.assertTrue(items)
        for i in items:                      # wrong key: nothing decrypts, nothing fails
            self.assertIsNone(i["user_api_key_prefix"])
            self.assertIsNone(i["key_prefix"])
        # the environment beats the file
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"],
                                       {"ENCRYPTION_KEY": fixture.DEV_ENCRYPTION_KEY})
        self.assert_fixture_list(rc, out, err, what="ENCRYPTION_KEY from the environment")

    def test_environment_beats_env_file_beats_default(self):
        bad = self.env_file("REDIS_URL=%s\nDATABASE_URL=%s\n"
                            % (self.closed_redis(), self.ctx.database_url), "bad.env")
        rc, out, err, _ = self.run_raw(["--env-file", bad, "list", "--json"],
                                       {"REDIS_URL": self.good_redis()})
        self.assert_fixture_list(rc, out, err, what="environment over env file")
        rc, out, err, _ = self.run_raw(["--env-file", bad, "--redis", self.good_redis(),
                                        "list", "--json"], {})
        self.assert_fixture_list(rc, out, err, what="flag over env file")
        rc, out, err, _ = self.run_raw(["--env-file", bad, "--timeout", "1", "list"], {})
        self.assertEqual(rc, 3, "the env file's REDIS_URL is used: %s" % err)
        good = self.env_file("REDIS_URL=%s\n" % self.good_redis(), "good.env")
        rc, out, err, _ = self.run_raw(["--env-file", good, "list", "--json"],
                                       {"DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="env file over the default")

    def test_env_file_errors(self):
        missing = os.path.join(self.tmp, "no-such.env")
        rc, out, err, _ = self.run_raw(["--env-file", missing, "list"], {})
        self.assertEqual(rc, 2, err)
        self.assertIn("no-such.env", err)
        self.assertEqual(len(err.strip().splitlines()), 1)
        # what python-dotenv cannot parse it skips, and so does aethertop, with a
        # warning naming the file and the line; the other lines still count
        path = self.env_file("REDIS_URL=%s\nthis line is not an assignment\nDATABASE_URL=%s\n"
                             % (self.good_redis(), self.ctx.database_url), "broken.env")
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"], {})
        self.assert_fixture_list(rc, out, err, what="env file with a line python-dotenv skips")
        self.assertEqual(self.warnings(err),
                         ["aethertop: warning: %s:2: expected KEY=value: line skipped, as python-dotenv "
                          "skips it" % path])
        # an unterminated quote skips its own line only; the password is not echoed
        path = self.env_file('REDIS_URL="redis://:%s@127.0.0.1:1/0\nREDIS_URL=%s\nDATABASE_URL=%s\n'
                             % (FAKE_PASSWORD, self.good_redis(), self.ctx.database_url), "open.env")
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"], {})
        self.assert_fixture_list(rc, out, err, what="env file with an unterminated quote")
        self.assertIn("open.env:1: unterminated double-quoted value", err)

    def test_env_file_interpolation(self):
        # ${NAME} and ${NAME:-default}: from the environment, else earlier lines
        u = urllib.parse.urlsplit(self.good_redis())
        path = self.env_file("REDIS_ADDR=%s\nREDIS_URL=redis://${REDIS_ADDR}${REDIS_PATH:-%s}\n"
                             "DATABASE_URL=${GW_DATABASE_URL}\n" % (u.netloc, u.path), "interp.env")
        rc, out, err, _ = self.run_raw(["--env-file", path, "list", "--json"],
                                       {"GW_DATABASE_URL": self.ctx.database_url})
        self.assert_fixture_list(rc, out, err, what="${...} in the env file")
        self.assertEqual(self.warnings(err), [])

    # ------------------------------------------------------ PostgreSQL settings

    def db_env(self, name=None, port=None):
        return {"DB_HOST": self.pg_host, "DB_PORT": str(port or self.pg_port),
                "DB_USER": self.pg_user, "DB_NAME": name or self.pg_db}

    def assert_alice_resolved(self, env, args=(), what=""):
        rc, out, err, _ = self.run_raw(list(args) + ["list", "alice", "--json"], env)
        self.assertEqual(rc, 0, "%s: %s" % (what, err))
        self.assertEqual(json.loads(out)["data"]["matched_user_id"], U_ALICE, what)

    def test_db_settings(self):
        env = dict(self.db_env(), REDIS_URL=self.good_redis())
        self.assert_alice_resolved(env, what="DB_*")
        rc, out, err, _ = self.run_raw(["list", "--json"], env)
        self.assert_fixture_list(rc, out, err, what="DB_*")

    def test_database_url_beats_db_settings(self):
        env = dict(self.db_env(name="no_such_database"), REDIS_URL=self.good_redis(),
                   DATABASE_URL=self.ctx.database_url)
        self.assert_alice_resolved(env, what="DATABASE_URL over DB_*")
        env = dict(self.db_env(), REDIS_URL=self.good_redis(),
                   DATABASE_URL=self.ctx.database_url.rsplit("/", 1)[0] + "/no_such_database")
        rc, out, err, _ = self.run_raw(["affinity", "alice"], env)
        self.assertEqual(rc, 3, "DATABASE_URL (wrong) must win over DB_* (right): %s" % err)

    def test_database_url_read_as_sqlalchemy_reads_it(self):
        # the server trusts every connection, so any password gets in: what
        # these show is that the URL is split as the gateway's SQLAlchemy
        # splits it (libpq's own parser saw a port "cd+ef@..." and a bad '%')
        base = "%s:%d/%s" % (self.pg_host, self.pg_port, self.pg_db)
        for url in ("postgresql://%s:ab/cd+ef@%s" % (self.pg_user, base),
                    "postgresql+psycopg2://%s:50%%off@%s" % (self.pg_user, base)):
            self.assert_alice_resolved({"REDIS_URL": self.good_redis(), "DATABASE_URL": url}, what=url)
        # asyncpg's ssl= is sslmode; a parameter libpq does not know is dropped, with a warning
        url = "postgresql+asyncpg://%s@%s?ssl=disable&prepared_statement_cache_size=0" % (self.pg_user, base)
        rc, out, err, _ = self.run_raw(["list", "alice", "--json"],
                                       {"REDIS_URL": self.good_redis(), "DATABASE_URL": url})
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["matched_user_id"], U_ALICE)
        self.assertEqual(self.warnings(err),
                         ['aethertop: warning: DATABASE_URL: query parameter "prepared_statement_cache_size" '
                          'is not a libpq connection option: ignored'])

    def test_database_flag_beats_environment(self):
        env = {"REDIS_URL": self.good_redis(),
               "DATABASE_URL": self.ctx.database_url.rsplit("/", 1)[0] + "/no_such_database"}
        self.assert_alice_resolved(env, ["--database", self.ctx.database_url], "--database")

    # --------------------------------------------------------- malformed

    def test_malformed_settings(self):
        pw = FAKE_PASSWORD
        good_pg = {"DATABASE_URL": self.ctx.database_url}
        good_redis = {"REDIS_URL": self.good_redis()}
        cases = [
            ({"REDIS_URL": "redis://:%s@127.0.0.1:notaport/0" % pw}, [], "REDIS_URL"),
            ({"REDIS_URL": "redis://:%s@127.0.0.1:99999/0" % pw}, [], "REDIS_URL"),
            ({"REDIS_URL": "http://:%s@127.0.0.1/0" % pw}, [], "REDIS_URL"),
            ({"REDIS_URL": "redis://:%s@127.0.0.1:6379/notadb" % pw}, [], "REDIS_URL"),
            ({"REDIS_URL": "127.0.0.1:6379"}, [], "REDIS_URL"),
            ({}, ["--redis", "redis://:%s@127.0.0.1:x/0" % pw], "--redis"),
            ({}, ["--redis", "redis://127.0.0.1:6379/x"], "--redis"),
            ({"REDIS_URL": None, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "abc", "REDIS_PASSWORD": pw},
             [], "REDIS_PORT"),
            ({"REDIS_URL": None, "REDIS_PORT": "70000"}, [], "REDIS_PORT"),
            ({"DATABASE_URL": None, "DB_PORT": "abc", "DB_PASSWORD": pw}, [], "DB_PORT"),
            ({"DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:5432/db?sslmode=disable&sslmode=require"
              % pw}, [], "DATABASE_URL"),
            ({"DATABASE_URL": "postgresql://postgres:Pa@%s@127.0.0.1:5432/db" % pw}, [], "DATABASE_URL"),
            ({"DATABASE_URL": "postgresql://postgres:%s@[::1/db" % pw}, [], "DATABASE_URL"),
            ({"DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:notaport/db" % pw}, [], "DATABASE_URL"),
            ({"DATABASE_URL": "mysql://postgres:%s@127.0.0.1/db" % pw}, [], "DATABASE_URL"),
            ({}, ["--database", "postgresql://postgres:%s@127.0.0.1:notaport/db" % pw], "--database"),
        ]
        for env, flags, setting in cases:
            # (the clear deletes nothing even if it ran: a failure here cannot spoil other tests)
            for cmd in (["list"], ["stats", "--json"], ["clear", "mapping", "nothing-cached", "--yes"]):
                with self.subTest(env=env, flags=flags, cmd=cmd):
                    e = dict(good_redis, **good_pg)
                    e.update(env)
                    e = {k: v for k, v in e.items() if v is not None}
                    self.assert_config_error(flags + cmd, e, setting)

    # ---------------------------------------------------------- unreachable

    def test_unreachable_redis_closed_port(self):
        url = self.closed_redis()
        for cmd in (["list"], ["list", "alice", "--json"], ["stats"], ["metrics"], ["mappings"],
                    ["affinity", "alice"], ["clear", "all", "--yes"]):
            rc, out, err, elapsed = self.run_raw(["--timeout", "1"] + cmd,
                                                 {"REDIS_URL": url, "DATABASE_URL": self.ctx.database_url})
            self.assertEqual(rc, 3, "%s: %s" % (cmd, err))
            self.assertLess(elapsed, BOUND_S, cmd)
            self.assertEqual(len(err.strip().splitlines()), 1, "one line: %r" % err)
            self.assertIn(url.split("//")[1].split("/")[0], err)  # says where it tried

    def test_silent_redis_times_out(self):
        port = xs.silent_server(self, backlog=16)
        for cmd in (["list"], ["stats", "--json"], ["clear", "all", "--yes"]):
            rc, out, err, elapsed = self.run_raw(
                ["--timeout", "1"] + cmd,
                {"REDIS_URL": "redis://127.0.0.1:%d/0" % port,
                 "DATABASE_URL": self.ctx.database_url})
            self.assertEqual(rc, 3, "%s: %s" % (cmd, err))
            self.assertLess(elapsed, BOUND_S, cmd)

    def closed_pg(self):
        return "postgresql://postgres@127.0.0.1:%d/aether" % xs.free_port()

    def test_postgres_down_list_still_works(self):
        rc, out, err, elapsed = self.run_raw(["--timeout", "1", "list", "--json"],
                                             {"REDIS_URL": self.good_redis(),
                                              "DATABASE_URL": self.closed_pg()})
        self.assert_fixture_list(rc, out, err, pg=False, what="PostgreSQL down")
        self.assertIsNone(json.loads(out)["data"]["matched_user_id"])
        warn = [l for l in err.splitlines() if "unreadable" not in l]
        self.assertEqual(len(warn), 1, "one warning line: %r" % err)
        self.assertIn("PostgreSQL", warn[0])
        self.assertLess(elapsed, BOUND_S)
        # human output: raw ids
        rc, out, err, _ = self.run_raw(["list"], {"REDIS_URL": self.good_redis(),
                                                  "DATABASE_URL": self.closed_pg()})
        self.assertEqual(rc, 0, err)
        self.assertIn(fixture.G_SONNET[:8], out)

    def test_postgres_down_other_redis_only_commands(self):
        env = {"REDIS_URL": self.good_redis(), "DATABASE_URL": self.closed_pg()}
        rc, out, err, _ = self.run_raw(["stats", "--json"], env)
        self.assertEqual(rc, 0, err)
        d = json.loads(out)["data"]
        self.assertEqual(d["total_affinity_keys"], len(fixture.AFFINITIES))
        self.assertFalse(d["postgres"]["available"])
        rc, out, err, _ = self.run_raw(["mappings", "--json"], env)
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        exp = self.fx.expected_mappings(pg=False)
        self.assertEqual(data["breakdown"], exp["breakdown"])
        self.assertEqual([m["mapping_name"] for m in data["mappings"]],
                         [m["mapping_name"] for m in exp["mappings"]])
        rc, out, err, _ = self.run_raw(["metrics"], env)
        self.assertEqual(rc, 0, err)

    def test_postgres_down_user_commands_exit_3(self):
        env = {"REDIS_URL": self.good_redis(), "DATABASE_URL": self.closed_pg()}
        for cmd in (["affinity", "alice"], ["affinity", "alice", "--json"], ["list", "alice"],
                    ["clear", "user", "alice", "--yes"]):
            rc, out, err, elapsed = self.run_raw(["--timeout", "1"] + cmd, env)
            self.assertEqual(rc, 3, "%s: %s" % (cmd, err))
            self.assertLess(elapsed, BOUND_S)
            self.assertEqual(len(err.strip().splitlines()), 1, "one line: %r" % err)
            self.assertIn("PostgreSQL", err)
        self.assertEqual(len(self.ctx.r.keys("cache_affinity:*")),
                         len(self.fx.affinity_keys()))

    def test_silent_postgres(self):
        port = xs.silent_server(self, backlog=16)
        env = {"REDIS_URL": self.good_redis(),
               "DATABASE_URL": "postgresql://postgres@127.0.0.1:%d/aether" % port}
        rc, out, err, elapsed = self.run_raw(["--timeout", "1", "affinity", "alice"], env)
        self.assertEqual(rc, 3, err)
        self.assertLess(elapsed, BOUND_S, "--timeout 1 bounds the PostgreSQL connect too")
        rc, out, err, elapsed = self.run_raw(["--timeout", "1", "list", "--json"], env)
        self.assert_fixture_list(rc, out, err, pg=False, what="silent PostgreSQL")
        self.assertLess(elapsed, BOUND_S)

    # ----------------------------------------------------- Redis password

    def password_server(self):
        cls = type(self)
        if cls.pw_server is None:
            port = xs.free_port()
            d = os.path.join(self.tmp, "redis-pw")
            os.makedirs(d, exist_ok=True)
            cls.pw_server = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", d, "--requirepass", PASSWORD],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cls.pw_port = port
            deadline = time.monotonic() + 10
            while True:
                try:
                    conn = harness.Redis(0, port=port, timeout=5)
                    conn.execute("AUTH", PASSWORD)
                    break
                except (OSError, harness.RedisError, ConnectionError):
                    if time.monotonic() > deadline or cls.pw_server.poll() is not None:
                        raise AssertionError("password redis-server did not start")
                    time.sleep(0.1)
            fx = fixture.Fixture()
            fx.write_redis(conn)
            conn.close()
        return cls.pw_port

    def test_redis_password_url(self):
        port = self.password_server()
        url = "redis://:%s@127.0.0.1:%d/0" % (urllib.parse.quote(PASSWORD, safe=""), port)
        rc, out, err, _ = self.run_raw(["list", "--json"], {"REDIS_URL": url,
                                                             "DATABASE_URL": self.ctx.database_url})
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["meta"]["total"], len(fixture.AFFINITIES))
        # with a user name too (redis://default:pw@...)
        url_user = "redis://default:%s@127.0.0.1:%d/0" % (urllib.parse.quote(PASSWORD, safe=""), port)
        rc, out, err, _ = self.run_raw(["stats", "--json"], {"REDIS_URL": url_user})
        self.assertEqual(rc, 0, err)
        # on the command line: works, with a warning that never repeats the password
        rc, out, err, _ = self.run_raw(["--redis", url, "stats"], {})
        self.assertEqual(rc, 0, err)
        # a clear against it: the audit log names the server, not the password
        state = os.path.join(self.tmp, "pw-state")
        rc, out, err, _ = self.run_raw(["clear", "mapping", "nothing-cached", "--yes"],
                                       {"REDIS_URL": url, "XDG_STATE_HOME": state})
        self.assertEqual(rc, 0, err)
        with open(os.path.join(state, "aethertop", "audit.log"), encoding="utf-8") as f:
            log = f.read()
        self.assertIn(str(port), log)
        for s in (PASSWORD, urllib.parse.quote(PASSWORD, safe="")):
            self.assertNotIn(s, log)

    def test_redis_password_host_port(self):
        port = self.password_server()
        rc, out, err, _ = self.run_raw(["list", "--json"], {
            "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_PASSWORD": PASSWORD,
            "DATABASE_URL": self.ctx.database_url})
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["meta"]["total"], len(fixture.AFFINITIES))
        # via an env file too
        path = self.env_file("REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=\"%s\"\n"
                             % (port, PASSWORD), "pw.env")
        rc, out, err, _ = self.run_raw(["--env-file", path, "stats", "--json"], {})
        self.assertEqual(rc, 0, err)

    def test_redis_wrong_or_missing_password(self):
        port = self.password_server()
        for env in ({"REDIS_URL": "redis://:%s@127.0.0.1:%d/0" % (FAKE_PASSWORD, port)},
                    {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_PASSWORD": FAKE_PASSWORD},
                    {"REDIS_URL": "redis://127.0.0.1:%d/0" % port},
                    {"REDIS_URL": "redis://127.0.0.1:%d/3" % port}):
            env["DATABASE_URL"] = self.ctx.database_url
            rc, out, err, elapsed = self.run_raw(["--timeout", "1", "list"], env)
            self.assertEqual(rc, 3, "%s: %s" % (env, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertLess(elapsed, BOUND_S)


if __name__ == "__main__":
    harness.main()
