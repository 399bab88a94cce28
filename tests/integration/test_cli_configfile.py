"""Integration tests of aethertop's own configuration file
($XDG_CONFIG_HOME/aethertop/config, ~/.config/aethertop/config, --config):
where it is looked for, every key taking effect, the precedence
flag > environment > env-file > config file > defaults, and errors reported
as one line "PATH:LINE: message" with exit status 2.
"""

import json
import os
import shutil
import tempfile
import time

import extra_servers as xs
import fixture
import harness


class ConfigFileTest(harness.IntegrationTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load(cls.ctx)
        cls.tmp = tempfile.mkdtemp(prefix="at-cfgfile-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        self.fx.load_redis(self.ctx)
        self.xdg = tempfile.mkdtemp(dir=self.tmp)
        os.makedirs(os.path.join(self.xdg, "aethertop"))

    # ------------------------------------------------------------ helpers

    def write(self, text, path=None, mode=0o600):
        path = path or os.path.join(self.xdg, "aethertop", "config")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run_at(self, args, env=None):
        """aethertop with no Redis/PostgreSQL settings in the environment
        unless `env` gives them; the config file under self.xdg."""
        e = {"ENCRYPTION_KEY": None, "XDG_CONFIG_HOME": self.xdg, "XDG_STATE_HOME": os.path.join(self.xdg, "state"),
             "AETHERTOP_READ_ONLY": None}
        e.update(env or {})
        t0 = time.monotonic()
        rc, out, err = harness.run([harness.AETHERTOP] + [str(a) for a in args],
                                   env=harness.program_env(None, None, e), timeout=60)
        self.elapsed = time.monotonic() - t0
        self.assertNoSanitizerReport(err, args)
        return rc, out, err

    def total(self, out):
        return json.loads(out)["data"]["meta"]["total"]

    def conn(self):
        return "[connection]\nredis = %s\ndatabase = %s\n" % (self.ctx.redis_url, self.ctx.database_url)

    # ------------------------------------------------------------ where and what

    def test_default_location_and_connection(self):
        self.write(self.conn())
        rc, out, err = self.run_at(["list", "alice", "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["matched_user_id"], fixture.U_ALICE)
        # ~/.config/aethertop/config when XDG_CONFIG_HOME is unset
        home = tempfile.mkdtemp(dir=self.tmp)
        os.makedirs(os.path.join(home, ".config", "aethertop"))
        self.write(self.conn(), os.path.join(home, ".config", "aethertop", "config"))
        rc, out, err = self.run_at(["list", "--json"], {"XDG_CONFIG_HOME": None, "HOME": home})
        self.assertEqual(rc, 0, err)
        # --config names another file, which must exist
        other = self.write(self.conn(), os.path.join(self.tmp, "other.conf"))
        shutil.rmtree(os.path.join(self.xdg, "aethertop"))
        rc, out, err = self.run_at(["--config", other, "list", "--json"])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.run_at(["--config", os.path.join(self.tmp, "missing.conf"), "list"])
        self.assertEqual(rc, 2)
        self.assertIn("missing.conf: cannot read the config file", err)
        # no file at the default place is fine (defaults: localhost:6379, nothing there here)
        rc, out, err = self.run_at(["help", "list"])
        self.assertEqual(rc, 0, err)

    def test_precedence(self):
        dead = "redis://127.0.0.1:%d/0" % xs.free_port()
        self.write("[connection]\nredis = %s\ndatabase = %s\ntimeout = 1\n" % (self.ctx.redis_url, self.ctx.database_url))
        base = {"DATABASE_URL": self.ctx.database_url}
        # config file < env-file
        envf = os.path.join(self.tmp, "gw.env")
        with open(envf, "w") as f:
            f.write("REDIS_URL=%s\n" % dead)
        rc, _, err = self.run_at(["--env-file", envf, "list"], base)
        self.assertEqual(rc, 3, "the env-file's REDIS_URL wins over the config file: " + err)
        # ... unless the environment hides it (REDIS_URL="" counts as unset and
        # hides the file's), when no Redis setting is left: the config file's
        rc, out, err = self.run_at(["--env-file", envf, "list", "--json"], dict(base, REDIS_URL=""))
        self.assertEqual(rc, 0, "REDIS_URL=\"\" hides the env-file's, so the config file's redis is used: " + err)
        # ... a REDIS_HOST in the environment counts as setting Redis too
        rc, _, err = self.run_at(["list"], dict(base, REDIS_HOST="127.0.0.1", REDIS_PORT=str(xs.free_port())))
        self.assertEqual(rc, 3, err)
        # env-file < environment
        rc, out, err = self.run_at(["--env-file", envf, "list", "--json"], dict(base, REDIS_URL=self.ctx.redis_url))
        self.assertEqual(rc, 0, err)
        # environment < flag
        rc, _, err = self.run_at(["--redis", dead, "list"], dict(base, REDIS_URL=self.ctx.redis_url))
        self.assertEqual(rc, 3, err)
        # the config file's env_file is used when no --env-file is given (relative to the file)
        with open(os.path.join(self.xdg, "aethertop", "rel.env"), "w") as f:
            f.write("REDIS_URL=%s\n" % dead)
        self.write("[connection]\nenv_file = rel.env\nredis = %s\n" % self.ctx.redis_url)
        rc, _, err = self.run_at(["list"], base)
        self.assertEqual(rc, 3, "env_file from the config file, whose REDIS_URL wins: " + err)

    def test_database_from_file_and_its_precedence(self):
        self.write(self.conn())
        rc, out, err = self.run_at(["list", "alice", "--json"])
        self.assertEqual(rc, 0, err)
        # DB_HOST/DB_PORT in the environment mean the environment sets PostgreSQL
        rc, out, err = self.run_at(["list", "alice", "--json"], {"DB_HOST": "127.0.0.1", "DB_PORT": str(xs.free_port())})
        self.assertEqual(rc, 3, err)

    def test_timeout_from_file(self):
        port = xs.silent_server(self, backlog=16)
        self.write("[connection]\nredis = redis://127.0.0.1:%d/0\ntimeout = 0.5\n" % port)
        rc, _, err = self.run_at(["list"], {"DATABASE_URL": self.ctx.database_url})
        self.assertEqual(rc, 3, err)
        self.assertLess(self.elapsed, 2.8, "timeout 0.5 s from the file (the default is 3 s)")
        # --timeout wins
        rc, _, err = self.run_at(["--timeout", "2", "list"], {"DATABASE_URL": self.ctx.database_url})
        self.assertEqual(rc, 3, err)
        self.assertGreater(self.elapsed, 1.9)

    def test_read_only_and_audit_log(self):
        audit = os.path.join(self.tmp, "audit-%d.log" % os.getpid())
        self.write(self.conn() + "[safety]\nread_only = true\naudit_log = %s\n" % audit)
        args = ["clear", "provider", "no-such-provider", "--yes"]
        rc, _, err = self.run_at(args)
        self.assertEqual(rc, 4, err)
        self.assertIn("read-only", err)
        # AETHERTOP_READ_ONLY set in the environment (even to 0) wins over the file
        rc, _, err = self.run_at(args, {"AETHERTOP_READ_ONLY": "0"})
        self.assertEqual(rc, 0, err)
        with open(audit) as f:
            line = harness.audit_records(f.read())[-1]
        self.assertIn("no-such-provider", json.dumps(line))
        # and --read-only always refuses
        self.write(self.conn() + "[safety]\nread_only = false\n")
        rc, _, err = self.run_at(["--read-only"] + args)
        self.assertEqual(rc, 4, err)

    # ------------------------------------------------------------ errors

    def test_errors_name_file_and_line(self):
        path = os.path.join(self.xdg, "aethertop", "config")
        cases = [
            ("[connection]\nredis = %s\n\n[colour]\n" % self.ctx.redis_url, "4: unknown section [colour]"),
            ("[console]\nrefresh = fast\n", "2: refresh: expected seconds between 0.2 and 3600, got \"fast\""),
            ("[connection]\n# comment\nredis = mysql://x\n", "3: redis"),
            ("[safety]\nread_only = perhaps\n", "2: read_only: expected true or false"),
            ("[console]\ntheme\n", "2: syntax error"),
            ("[console]\ncolumn = ttl\n", "2: unknown key \"column\" in [console]"),
            ("[console]\ncolumns = ttl, bogus\n", "2: columns: unknown column \"bogus\""),
            ("timeout = 3\n", "1: \"timeout\" outside a section"),
            ("[connection]\ntimeout = 0\n", "2: timeout: expected seconds more than 0 and at most 3600, got \"0\""),
        ]
        for text, want in cases:
            with self.subTest(text=text):
                self.write(text)
                for args in (["list"], []):          # the console never starts either
                    rc, out, err = self.run_at(args)
                    self.assertEqual(rc, 2, err)
                    self.assertEqual(out, "")
                    self.assertEqual(len(err.strip().splitlines()), 1, err)
                    self.assertTrue(err.startswith("aethertop: %s:%s" % (path, want)), err)

    def test_password_file_readable_by_others(self):
        url = self.ctx.redis_url.replace("redis://", "redis://:not-really@")
        self.write("[connection]\nredis = %s\n" % url, mode=0o644)
        rc, out, err = self.run_at(["help"])
        self.assertEqual(rc, 0)
        rc, out, err = self.run_at(["config"])
        self.assertIn("chmod 600", err)
        self.assertNotIn("not-really", err)
        self.write("[connection]\nredis = %s\n" % url, mode=0o600)
        rc, out, err = self.run_at(["config"])
        self.assertNotIn("chmod 600", err)


if __name__ == "__main__":
    harness.main()
