"""Bad input to the command line: every mistake gives one line on stderr
that names what was wrong ("aethertop: ..."), nothing on stdout, a non-zero
exit status (2 usage or configuration, 3 a server could not be used), no
password in the message, and never a crash, a sanitizer report or a hang
(harness.run fails a run that takes longer than its timeout).

Covered: unknown options (long, short, clustered short), a missing value,
a value given to a flag that takes none, --limit/--offset/--window/--hours/
--timeout out of range or not numbers, unknown commands, known commands with
too many or too few arguments, clear without a target or with a wrong one,
help for an unknown command, a missing config file, bad Redis URLs;
hostile arguments (escape sequences, C1 and bidi controls, invalid UTF-8,
passwords and keys where a value is echoed) and hostile paths and settings
that a message names: their bytes reach stderr only made visible and with
any secret hidden; Redis
unreachable, not Redis (PostgreSQL's port), silent, wrong password, no
password; PostgreSQL unreachable and a PostgreSQL without the gateway's
tables.
"""

import os
import re
import shutil
import tempfile
import urllib.parse

import extra_servers as xs
import harness

REDIS_PW = "CliErr-Redis-pw-5e2a91"
WRONG_PW = "CliErr-wrong-pw-77b0c3"

# A warning that may come before the error (not the error itself).
PASSWORD_WARNING = re.compile(r"^aethertop: warning: a password on the command line is visible")


class CliErrorBase(harness.IntegrationTest):

    def assert_one_line_error(self, args, pattern, rc=2, env=None, secrets=()):
        """stderr's bytes are checked as they are: no sanitizer report, no raw
        control or bidi character, valid UTF-8."""
        rc_got, out, err = self.ctx.run_aethertop(args, env=env, timeout=60, binary=True)
        what = repr(args)
        xs.assert_clean(self, what, out, err)
        err = err.decode("utf-8")
        self.assertEqual(rc_got, rc, "exit status of aethertop %s; stderr: %r" % (what, err))
        self.assertEqual(out, b"", "stdout of aethertop %s" % what)
        lines = [l for l in err.splitlines() if not PASSWORD_WARNING.match(l)]
        self.assertEqual(len(lines), 1, "one line for aethertop %s, got %r" % (what, err))
        self.assertTrue(lines[0].startswith("aethertop: "), lines[0])
        self.assertRegex(lines[0], pattern, "the message of aethertop %s" % what)
        for s in secrets:
            self.assertNotIn(s, err, "a secret in the message of aethertop %s" % what)
        return lines[0]


class UsageErrors(CliErrorBase):
    """Exit 2: the command line itself is wrong (no server needed to say so)."""

    CASES = [
        (["--bogus", "list"], r'unknown or ambiguous option "--bogus"'),
        (["--re", "list"], r'unknown or ambiguous option "--re"'),        # --redis, --read-only ...
        (["-x", "list"], r'unknown option "-x"'),
        (["-xy", "list"], r'unknown option "-x"'),                         # not the program's name
        (["list", "--limit"], r"--limit needs a value"),
        (["list", "--redis"], r"--redis needs a value"),
        (["list", "--json=yes"], r"--json takes no value"),
        (["list", "--limit", "0"], r"--limit must be between 1 and 1000, got 0$"),
        (["list", "--limit", "abc"], r'--limit: not an integer: "abc"'),
        (["list", "--offset", "-1"], r"--offset must be 0 or more, got -1$"),
        (["hits", "--window", "5x"], r'--window: expected a duration like 5m, 1h or 24h, got "5x"'),
        (["hits", "--window", ""], r'--window: .* got ""'),
        (["ttl-advice", "--hours", "0"], r'--hours: expected hours more than 0 and at most 720, got "0"'),
        (["ttl-advice", "--hours", "abc"], r'--hours: expected hours .* got "abc"'),
        (["ttl-advice", "--hours", "5000"], r'--hours: expected hours .* got "5000"'),
        (["ttl-advice", "--hours", "721"], r'--hours: expected hours .* got "721"'),
        (["list", "--timeout", "abc"], r'--timeout: expected seconds .* got "abc"'),
        (["list", "--timeout", "0"], r'--timeout: expected seconds more than 0 and at most 3600, got "0"$'),
        (["--delay", "0"], r'--delay: expected seconds more than 0 and at most 3600, got "0"$'),
        (["list", "--hours", "5"], r"--hours applies to ttl-advice only"),
        (["frobnicate"], r'unknown command "frobnicate"'),
        (["stats", "extra"], r'stats takes no arguments, got "extra"'),
        (["ttl-advice", "24"], r'ttl-advice takes no arguments, got "24"'),
        (["list", "alice", "bob"], r'list takes at most one KEYWORD, got "bob" too'),
        (["affinity"], r"affinity needs a user: aethertop affinity USER_IDENTIFIER"),
        (["affinity", "alice", "bob"], r'affinity takes one USER_IDENTIFIER, got "bob" too'),
        (["clear"], r"clear needs a target: user, affinity, all"),
        (["clear", "everything"], r'unknown clear target "everything"'),
        (["clear", "user"], r"usage: aethertop clear user IDENTIFIER"),
        (["clear", "all", "now"], r"usage: aethertop clear all"),
        (["clear", "affinity", "k"], r"usage: aethertop clear affinity AFFINITY_KEY ENDPOINT_ID"),
        (["clear", "provider-mapping", "p"], r"usage: aethertop clear provider-mapping PROVIDER_ID"),
        (["help", "frobnicate"], r'no command "frobnicate"'),
        (["--config", "/nonexistent/aethertop.conf", "list"], r"/nonexistent/aethertop.conf: cannot read"),
        (["--env-file", "/nonexistent/gateway.env", "list"], r"/nonexistent/gateway.env: cannot open"),
        (["--redis", "http://127.0.0.1/", "list"], r'--redis: unsupported scheme "http"'),
        (["--redis", "redis://127.0.0.1:99999/0", "list"], r'--redis: bad port "99999"'),
    ]

    def test_each_mistake_gives_one_line(self):
        for args, pattern in self.CASES:
            with self.subTest(args=args):
                self.assert_one_line_error(args, pattern)

    def test_password_not_echoed_in_a_usage_error(self):
        url = "redis://:%s@127.0.0.1:99999/0" % REDIS_PW
        self.assert_one_line_error(["--redis", url, "list"], r"--redis: bad port", secrets=[REDIS_PW])


ESC, BEL, CSI, RLO = "\x1b", "\x07", "\x9b", "\u202e"
RAW_FF = os.fsdecode(b"\xff")          # a byte that is not UTF-8, passed as it is
ARG_PW = "ArgEcho-pw-6c1d0e"


class HostileArguments(CliErrorBase):
    """What a message echoes from the command line, a path or a setting goes
    to stderr made harmless: control characters, bidi controls and bytes that
    are not UTF-8 become visible symbols (an argument cannot move the cursor,
    retitle the window, set the clipboard or reorder the line), and the value
    of a password or key never appears, however it was mistyped."""

    # (args, what the line says: the value shown as visible symbols)
    CONTROLS = [
        (["list", "--limit", ESC + "[31mX" + RAW_FF], r'--limit: not an integer: "\u241b\[31mX\ufffd"'),
        (["list", "--offset", ESC + "]0;title" + BEL], r'--offset: not an integer: "\u241b\]0;title\u2407"'),
        (["hits", "--window", ESC + "[2J"], r'--window: .* got "\u241b\[2J"'),
        (["ttl-advice", "--hours", CSI + "31m"], r'--hours: .* got "\ufffd31m"'),
        (["list", "--timeout", RLO + "5"], r'--timeout: .* got "\ufffd5"'),
        (["--delay", ESC + "]52;c;QUJD" + BEL], r'--delay: .* got "\u241b\]52;c;QUJD\u2407"'),
        (["--bo" + ESC + "[1mgus", "list"], r'unknown or ambiguous option "--bo\u241b\[1mgus"'),
        (["help", "x" + ESC + "[1m"], r'no command "x\u241b\[1m"'),
        (["fro" + ESC + "b"], r'unknown command "fro\u241bb"'),
        (["stats", RAW_FF + ESC], r'stats takes no arguments, got "\ufffd\u241b"'),
        (["--env-file", "/nonexistent/" + ESC + "[31m.env", "list"], r"/nonexistent/\u241b\[31m\.env: cannot open"),
        (["--config", "/nonexistent/" + ESC + "[31m.conf", "list"], r"/nonexistent/\u241b\[31m\.conf: cannot read"),
    ]

    def test_control_characters_are_made_visible(self):
        for args, pattern in self.CONTROLS:
            with self.subTest(args=args):
                self.assert_one_line_error(args, pattern)

    def test_libpq_message_quoting_a_setting_is_made_visible(self):
        """libpq quotes the bad keyword of a DATABASE_URL keyword string."""
        self.assert_one_line_error(["list"], r'DATABASE_URL: invalid connection option "\u241b\]0;x\u2407"',
                                env={"DATABASE_URL": "host=127.0.0.1 %s]0;x%s=1" % (ESC, BEL)})

    def test_config_file_values_are_cut_between_characters_and_hide_passwords(self):
        """A value the config file's error quotes: cut after whole characters
        (it was cut inside one, so stderr was not UTF-8), a password hidden."""
        tmp = tempfile.mkdtemp(prefix="at-cli-errors-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "aethertop.conf")
        for line, pattern in ((b"timeout = a" + b"\x1b" * 70, r'timeout: .* got "a(\u241b){59}…"$'),
                              (b"timeout = " + "é".encode() * 30 + b"\x1b" * 40, r'got "é{30}(\u241b){30}…"$'),
                              (("database = host=h password=%s" % ARG_PW).encode(), r'got "host=h password=\*\*\*"$'),
                              (("database = mysql://u:%s@h/d" % ARG_PW).encode(), r'got "mysql://u:\*\*\*@h/d"$')):
            with self.subTest(line=line):
                with open(path, "wb") as f:
                    f.write(b"[connection]\n" + line + b"\n")
                os.chmod(path, 0o600)
                self.assert_one_line_error(["--config", path, "list"], pattern, secrets=[ARG_PW])

    LONG = "x" * 80
    SECRETS = [
        # an unknown or ambiguous option is named without its value
        (["--redi=redis://:%s@127.0.0.1/0" % ARG_PW, "list"], r'unknown or ambiguous option "--redi"'),
        (["--database-url=postgresql://u:%s@h/d" % ARG_PW, "list"], r'unknown or ambiguous option "--database-url"'),
        (["--redis-password=%s" % ARG_PW, "list"], r'unknown or ambiguous option "--redis-password"'),
        (["--encryption-key=%s" % ARG_PW, "list"], r'unknown or ambiguous option "--encryption-key"'),
        # a value that is echoed: a URL's password, a keyword string's, NAME=value of a secret
        (["stats", "redis://:%s@127.0.0.1/0" % ARG_PW], r'stats takes no arguments, got "redis://:\*\*\*@127'),
        (["redis://:%s%s@127.0.0.1/0" % (ARG_PW, LONG)], r'unknown command "redis://:\*\*\*@127\.0\.0\.1/0"'),
        (["list", "a", "postgresql://u:%s@h/d" % ARG_PW], r'list takes at most one KEYWORD, got "postgresql://u:\*\*\*@h/d" too'),
        (["affinity", "a", "host=h password=%s" % ARG_PW], r'affinity takes one USER_IDENTIFIER, got "host=h password=\*\*\*" too'),
        (["clear", "ENCRYPTION_KEY=%s" % ARG_PW], r'unknown clear target "ENCRYPTION_KEY=\*\*\*"'),
        (["help", "REDIS_PASSWORD=%s" % ARG_PW], r'no command "REDIS_PASSWORD=\*\*\*"'),
        (["list", "--limit", "redis://:%s@h/0" % ARG_PW], r'--limit: not an integer: "redis://:\*\*\*@h/0"'),
        (["list", "--timeout", "password=%s" % ARG_PW], r'--timeout: .* got "password=\*\*\*"'),
    ]

    def test_secrets_in_arguments_are_not_echoed(self):
        for args, pattern in self.SECRETS:
            with self.subTest(args=args):
                self.assert_one_line_error(args, pattern, secrets=[ARG_PW, ARG_PW[-6:]])


class ServerErrors(CliErrorBase):
    """Exit 3: the settings are well-formed but a server cannot be used."""

    SCHEMA = False       # a PostgreSQL database without the gateway's tables

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctx.redis("SETEX", "cache_affinity:key-e-1:CLAUDE:gm-1", 900,
                      '{"provider_id": "prov-e", "endpoint_id": "ep", "key_id": "pk", '
                      '"api_format": "CLAUDE", "model_name": "gm-1", "created_at": 1, '
                      '"expire_at": 4102444800, "request_count": 1}')

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="at-cli-errors-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_redis_unreachable(self):
        port = xs.free_port()
        self.assert_one_line_error(["--redis", "redis://127.0.0.1:%d/0" % port, "list"],
                                   r"Redis 127\.0\.0\.1:%d: .*Connection refused" % port, rc=3)

    def test_not_a_redis_server(self):
        """PostgreSQL's port given as Redis: it hangs up on RESP."""
        pg_port = urllib.parse.urlsplit(harness.PG_ADMIN_URL).port
        self.assert_one_line_error(["--redis", "redis://127.0.0.1:%d/0" % pg_port, "--timeout", "5", "stats"],
                                   r"Redis 127\.0\.0\.1:%d" % pg_port, rc=3)

    def test_silent_redis(self):
        port = xs.silent_server(self)
        self.assert_one_line_error(["--redis", "redis://127.0.0.1:%d/0" % port, "--timeout", "1", "list"],
                                   r"Redis 127\.0\.0\.1:%d.*timed out" % port, rc=3)

    def test_redis_wrong_and_missing_password(self):
        xs.need_redis_server()
        srv = xs.start_redis(self, self.tmp, "redis-pw")
        c = srv.client()
        c.execute("CONFIG", "SET", "requirepass", REDIS_PW)
        c.close()
        wrong = "redis://:%s@127.0.0.1:%d/0" % (WRONG_PW, srv.port)
        self.assert_one_line_error(["list"], r"authentication failed: WRONGPASS", rc=3,
                                   env={"REDIS_URL": wrong}, secrets=[WRONG_PW, REDIS_PW])
        self.assert_one_line_error(["--redis", wrong, "stats"], r"authentication failed: WRONGPASS", rc=3,
                                   secrets=[WRONG_PW, REDIS_PW])
        self.assert_one_line_error(["list"], r"NOAUTH", rc=3,
                                   env={"REDIS_URL": "redis://127.0.0.1:%d/0" % srv.port})

    def test_postgresql_unreachable(self):
        port = xs.free_port()
        url = "postgresql://postgres:%s@127.0.0.1:%d/gateway" % (WRONG_PW, port)
        line = self.assert_one_line_error(["affinity", "alice"],
                                          r"cannot resolve the user: PostgreSQL .*Connection refused", rc=3,
                                          env={"DATABASE_URL": url}, secrets=[WRONG_PW])
        self.assertIn("127.0.0.1", line)

    def test_postgresql_without_the_gateway_tables(self):
        self.assert_one_line_error(["affinity", "alice"], r'cannot resolve the user: .*"users" does not exist',
                                   rc=3)
        self.assert_one_line_error(["clear", "user", "alice", "--yes"],
                                   r"cannot resolve the user: .* does not exist", rc=3)
        self.assert_one_line_error(["hits"], r'cannot read the usage table: .*"usage" does not exist', rc=3)
        self.assert_one_line_error(["ttl-advice"], r"cannot read the usage table", rc=3)
        # a listing still works from Redis alone, with one warning saying why ids are raw
        rc, out, err = self.ctx.run_aethertop(["list"])
        self.assertEqual(rc, 0, err)
        self.assertIn("key-e-1", out)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r'^aethertop: warning: PostgreSQL: .*does not exist; showing raw ids')
        self.assertEqual(len(self.ctx.r.keys("cache_affinity:*")), 1, "nothing cleared")


if __name__ == "__main__":
    harness.main()
