"""Screen tests of the interactive console (`aethertop` with no command), in
the tig manner: the console runs in a tmux pane of fixed size against the
test Redis/PostgreSQL, the test sends keys with `send-keys` and reads the
screen with `capture-pane`, polling until the expected text shows (never
sleeping blindly).

This file also holds the helpers the other test_console_*.py files import
(`Console`, `load_fixture`): a private tmux server per console (keys, command
lines, the help paged through), the program's stderr kept for the sanitizer
check, and the known fixture of fixture.py written with long TTLs so nothing
expires during a test.

Covered here: first screen, search narrowing to one user (as you type, Enter
keeps, Esc clears), paging and the position line, sort change (menu, invert,
cycle), detail view, group view narrowing, mapping view, help, config,
theme load error (file:line, default theme used), NO_COLOR, resize to 60x20
and back, hostile data shown safely (escape sequences, BEL, CJK widths),
copying ids with OSC 52.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unicodedata
import uuid

import fixture
import harness
from fixture import (AFFINITIES, G_SONNET, K_BOB, K_MAIN, P_ANT, U_ALICE, uid)

LONG_TTL = 3000          # added to every live fixture affinity: nothing expires mid-test

# A user whose name is an attack on the terminal: OSC 52 (set the clipboard),
# clear screen, BEL; and an API key name with a colour change.
U_EVIL, K_EVIL = uid(1, 66), uid(2, 66)
EVIL_NAME = "evil\x1b]52;c;aGFja2Vk\x07\x1b[2J\x07bell"
EVIL_KEY_NAME = "k\x1b[31mred\x9b1m"
EVIL_AFFINITY = "cache_affinity:%s:OPENAI:%s" % (K_EVIL, G_SONNET)


def cells(text):
    """Terminal width of text (East Asian wide/fullwidth = 2, combining = 0)."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def col_of(line, needle):
    """Cell column where needle starts in a captured line (-1 if absent)."""
    i = line.find(needle)
    return -1 if i < 0 else cells(line[:i])


# ------------------------------------------------------------------ fixture

def evil_sql():
    L = harness.sql_literal
    return ("BEGIN;\n"
            "INSERT INTO users (id, email, username, password_hash) VALUES (%s, %s, %s, 'x');\n"
            "INSERT INTO api_keys (id, user_id, key_hash, key_encrypted, name, is_standalone) "
            "VALUES (%s, %s, 'evilhash', '', %s, false);\nCOMMIT;\n"
            % (L(U_EVIL), L("evil@example.com"), L(EVIL_NAME), L(K_EVIL), L(U_EVIL), L(EVIL_KEY_NAME)))


def load_fixture_pg(ctx, fx):
    fx.load_pg(ctx)
    ctx.psql(evil_sql())


def load_fixture(conn, fx):
    """FLUSHDB, then the fixture's Redis keys with every live affinity given
    LONG_TTL more seconds (A8 stays expired), plus the hostile user's one."""
    conn.flushdb()
    fx.write_redis(conn)
    cmds = []
    for a in AFFINITIES:
        v = fx.affinity_value(a)
        if a[8] > 0:
            v["expire_at"] += LONG_TTL
        cmds.append(("SETEX", fx.affinity_key(a), max(a[8], 0) + LONG_TTL + 900, json.dumps(v)))
    now = fx.now
    cmds.append(("SETEX", EVIL_AFFINITY, LONG_TTL + 900, json.dumps({
        "provider_id": P_ANT, "endpoint_id": fixture.E_ANT_CLAUDE, "key_id": fixture.PK_ANT1,
        "api_format": "OPENAI", "model_name": G_SONNET, "created_at": now - 5,
        "expire_at": now + LONG_TTL + 100, "request_count": 7})))
    for reply in conn.pipeline(cmds):
        if isinstance(reply, harness.RedisError):
            raise reply


LIVE_ROWS = sum(1 for a in AFFINITIES if a[8] > 0) + 1        # + the hostile user's
ALICE_KEYS = (fixture.K_MAIN, fixture.K_CI)
ALICE_ROWS = sum(1 for a in AFFINITIES if a[1] in ALICE_KEYS and a[8] > 0)


# ------------------------------------------------------------------ tmux

class Console:
    """One aethertop console in a private tmux server."""

    def __init__(self, ctx, args=(), env=None, width=120, height=40, redis_url=None,
                 database_url=None, clipboard=False):
        if not shutil.which("tmux"):
            raise AssertionError("tmux is not installed")
        self.sock = "at-console-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
        self.tmp = tempfile.mkdtemp(prefix="at-console-")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.state = os.path.join(self.tmp, "state")
        self.config = os.path.join(self.tmp, "config")
        os.makedirs(self.config)
        e = ctx.env(fixture.dev_env())
        e.update({"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                  "XDG_STATE_HOME": self.state, "XDG_CONFIG_HOME": self.config})
        for k in ("TMUX", "TMUX_PANE", "NO_COLOR", "AETHERTOP_THEMES_DIR", "AETHERTOP_READ_ONLY"):
            e.pop(k, None)
        if redis_url:
            e["REDIS_URL"] = redis_url
        if database_url:
            e["DATABASE_URL"] = database_url
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        self.env = e
        argv = [harness.AETHERTOP] + [str(a) for a in args]
        # tmux sets TERM in the pane from its default-terminal: give ours explicitly
        cmd = "env TERM=%s %s 2>%s; echo \"[exited $?]\"; sleep 600" % (
            shlex.quote(e["TERM"]), " ".join(shlex.quote(a) for a in argv), shlex.quote(self.stderr_path))
        self.closed = False
        self.pid = None
        try:
            self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width),
                      "-y", str(height), cmd)
            if clipboard:
                self.tmux("set-option", "-s", "set-clipboard", "on")
            self.shell_pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        except BaseException:
            # the caller gets no Console to close: leave no tmux server or directory behind
            self.tmux("kill-server", check=False)
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def tmux(self, *args, check=True):
        proc = subprocess.run(["tmux", "-L", self.sock] + list(args), env=self.env,
                              capture_output=True, text=True, timeout=20)
        if check and proc.returncode != 0:
            raise AssertionError("tmux %s failed: %s" % (" ".join(args), proc.stderr.strip()))
        return proc.stdout

    # ------------------------------------------------------------ screen

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").rstrip("\n")

    def lines(self):
        return self.screen().split("\n")

    def wait(self, expect, timeout=15.0, absent=False):
        """Poll the screen until `expect` (text, compiled regex or predicate
        on the screen text) holds (or, absent=True, stops holding). Returns
        the screen."""
        if isinstance(expect, str):
            test = lambda s: expect in s
        elif hasattr(expect, "search"):
            test = lambda s: expect.search(s) is not None
        else:
            test = expect
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            ok = bool(test(s))
            if ok != absent:
                return s
            if "[exited" in s:
                raise AssertionError("the console exited while waiting for %r:\n%s\nstderr:\n%s"
                                     % (expect, s, self.stderr()))
            if time.monotonic() > deadline:
                raise AssertionError("%s %r within %.0fs; screen:\n%s"
                                     % ("still showing" if absent else "did not show",
                                        getattr(expect, "pattern", expect), timeout, s))
            time.sleep(0.1)

    def line_with(self, text, screen=None):
        for line in (screen or self.screen()).split("\n"):
            if text in line:
                return line
        raise AssertionError("no line contains %r:\n%s" % (text, screen or self.screen()))

    def position(self, screen=None):
        return self.line_with(" rows ", screen)

    # ------------------------------------------------------------ keys

    def keys(self, *keys):
        """tmux key names (Enter, Escape, NPage, F9, ...) or single characters."""
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def clipboard(self):
        return self.tmux("show-buffer", check=False)

    def command(self, text):
        """A command line: `:`, the text, Enter."""
        self.keys(":")
        self.type(text)
        self.keys("Enter")

    HELP_TITLE = "Help  (Esc: back"
    HELP_END = "Esc closes this help"      # the help's last line

    def help_text(self, pages=12):
        """Open the help (?) and page through it to its last line: the
        screens seen, one after the other (newline between them). Each PgDn
        is followed by waiting for the help's lines to move (never a fixed
        pause, which a slow machine outruns); more than `pages` pages fail."""
        def body(screen):
            # the help's own lines: below its title, above the bottom bar
            after = screen.split(self.HELP_TITLE, 1)[-1].split("\n")[1:]
            return "\n".join(after[:-2])

        self.keys("?")
        cur = self.wait(self.HELP_TITLE)
        seen = cur
        for _ in range(pages):
            if self.HELP_END in body(cur):
                return seen
            before = body(cur)
            self.keys("NPage")
            cur = self.wait(lambda s, before=before: self.HELP_TITLE in s and body(s) != before)
            seen += "\n" + cur
        raise AssertionError("the help did not end within %d pages:\n%s" % (pages, cur))

    # ------------------------------------------------------------ ending

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def quit(self, testcase=None):
        """q, then the exit status must be 0 and stderr free of sanitizer reports."""
        if self.closed:
            return
        self.program_pid()
        self.keys("q")
        s = self.wait("[exited", timeout=20)
        status = re.search(r"\[exited (\d+)\]", s).group(1)
        err = self.stderr()
        self.close()
        if testcase:
            testcase.assertEqual(status, "0", "exit status; stderr:\n" + err)
            testcase.assertNoSanitizerReport(err, "the console")

    def program_pid(self):
        """The aethertop process (the pane shell's child), or None."""
        if self.pid is None:
            try:
                with open("/proc/%d/task/%d/children" % (self.shell_pid, self.shell_pid)) as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                kids = []
            for k in kids:
                try:
                    with open("/proc/%d/cmdline" % k, "rb") as f:
                        if harness.AETHERTOP.encode() in f.read():
                            self.pid = k
                except OSError:
                    pass
        return self.pid

    def close(self):
        """Quit the console if it still runs (q, as a user would), then stop
        this tmux server; a console that does not go away is killed (by
        its pid: it is this test's own child)."""
        if self.closed:
            return
        pid = self.program_pid()
        try:
            if "[exited" not in self.screen():
                self.keys("q")
                deadline = time.monotonic() + 10
                while "[exited" not in self.screen() and time.monotonic() < deadline:
                    time.sleep(0.1)
        except AssertionError:
            pass
        self.tmux("kill-server", check=False)
        self.closed = True
        if pid:
            deadline = time.monotonic() + 5
            while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        if f.read().split(") ")[1].startswith("Z"):
                            break
                except OSError:
                    break
                time.sleep(0.1)
            else:
                if os.path.exists("/proc/%d" % pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class ConsoleTest(harness.IntegrationTest):
    """Fixture in PostgreSQL once per class, in Redis before each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.need_tools("tmux")
        cls.fx = fixture.Fixture()
        load_fixture_pg(cls.ctx, cls.fx)

    def setUp(self):
        load_fixture(self.ctx.r, self.fx)
        self.consoles = []

    def tearDown(self):
        for c in self.consoles:
            c.close()

    def start(self, *args, wait=True, **kw):
        c = Console(self.ctx, args, **kw)
        self.consoles.append(c)
        if wait:
            c.wait("rows 1")
        return c


# ------------------------------------------------------------------ tests

class ScreenTest(ConsoleTest):

    def test_first_screen(self):
        c = self.start()
        s = c.wait(re.compile(r"updated \d+\.\d s ago"))
        top = c.lines()[0]
        self.assertIn("Redis 127.0.0.1:%d/%d master" % (harness.REDIS_PORT, self.ctx.redis_db), top)
        self.assertIn("PG ok", top)
        self.assertIn("every 2 s", top)
        self.assertNotIn("STALE", top)
        self.assertNotIn("READ-ONLY", top)
        tabs = c.lines()[1]
        self.assertRegex(tabs, r"^  1 Affinities   2 Groups   3 Mappings   4 Stats   5 Config   6 Hits   7 TTL +"
                               r"%d active \S 6 unreadable$" % LIVE_ROWS)
        header = c.line_with("USER ")
        self.assertEqual(header.split(), ["USER", "KEY", "NAME", "PROVIDER", "ENDPOINT", "PROV", "KEY",
                                          "MODEL", "FORMAT", "REQS", "HIT", "1h", "TTL▼", "CREATED"])
        self.assertEqual(c.position().strip(),
                         "rows 1–%d of %d · page 1/1 · sort TTL (expire_at) ▼ · → more columns"
                         % (LIVE_ROWS, LIVE_ROWS))
        self.assertEqual(c.lines()[-1],
                         "F1Help  F2Cmd   F3SearchF4Stats F5ReloadF6SortByF7Pause F8Copy  F9Clear F10Quit")
        # the default sort: expire_at descending (A6 has the most time left)
        first = c.lines()[c.lines().index(header) + 1]
        self.assertTrue(first.startswith("bob "), first)
        self.assertIn("Gemini Direct", first)
        # the stats pane (40 rows high): TTL buckets and Redis health
        self.assertIn("Formats", s)
        self.assertIn("dbsize", s)
        # the expired A8 is not listed; the hostile records are counted, not shown
        self.assertNotIn("bad-json", s)
        c.quit(self)

    def test_search_narrows_to_one_user(self):
        c = self.start()
        c.keys("/")
        c.wait("Search: ")
        c.type("ali")                                   # substring while typing
        c.wait('search "ali" (text)')
        c.type("ce")                                    # now a user name
        s = c.wait('search "alice" (user)')
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        header = c.line_with("USER ", s)
        rows = s.split("\n")[s.split("\n").index(header) + 1:][:ALICE_ROWS]
        self.assertTrue(all(r.startswith("alice ") for r in rows), rows)
        c.keys("Enter")                                 # keeps the filter
        c.wait('Filter kept: "alice"')
        self.assertIn('search "alice" (user)', c.position())
        c.keys("Escape")                                # clears it
        c.wait(lambda s: "rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS) in s and "search" not in s)
        # an API key id is the first rule: only that key's affinities
        c.keys("/")
        c.type(K_BOB)
        c.wait('search "%s" (API key)' % K_BOB)
        self.assertIn("rows 1–2 of 2", c.position())
        c.keys("Escape")
        c.wait("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS))
        # :user resolves in PostgreSQL (email here)
        c.command("user alice@example.com")
        c.wait("Showing user %s" % U_ALICE)
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        c.quit(self)

    def test_search_enter_asks_postgresql(self):
        """While typing, a keyword is read against the loaded data only; Enter
        also asks PostgreSQL, as the reference resolves it: a user with no
        affinity loaded shows none rather than a substring match. An API key
        id with spaces around it stands for its user (the reference's last
        rule), in the loaded data too."""
        ali = "99999999-0000-4000-8000-000000000001"
        self.ctx.psql("INSERT INTO users (id, email, username, password_hash) "
                      "VALUES ('%s', 'ali@example.org', 'ali', 'x');" % ali)
        self.addCleanup(self.ctx.psql, "DELETE FROM users WHERE id = '%s';" % ali)
        c = self.start()
        c.keys("/")
        c.wait("Search: ")
        c.type("ali")
        c.wait('search "ali" (text)')
        self.assertNotIn("rows 0–0 of 0", c.position())     # alice's rows hold "ali"
        c.keys("Enter")
        c.wait('search "ali" (user)')
        c.wait("rows 0–0 of 0")
        c.keys("/")                                        # edits the same text
        c.wait("Search: ali")
        c.type("ce")
        c.wait('search "alice" (user)')
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        c.keys("Escape")
        c.wait(lambda s: "rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS) in s and "search" not in s)
        c.keys("/")
        c.type(" %s " % K_MAIN)
        c.wait("(user)")
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        c.keys("Enter")                                    # PostgreSQL agrees
        c.wait("Filter kept")
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        c.quit(self)

    def test_quit_signals(self):
        """TERM quits with status 143; QUIT (Ctrl-\\) quits too and gives the
        terminal back: no alternate screen, cursor shown."""
        for sig, status in ((signal.SIGTERM, 143), (signal.SIGQUIT, 131)):
            c = self.start()
            pid = c.program_pid()
            self.assertTrue(pid)
            os.kill(pid, sig)
            s = c.wait("[exited", timeout=20)
            self.assertIn("[exited %d]" % status, s)
            flags = c.tmux("display-message", "-p", "-t", "t", "#{alternate_on} #{cursor_flag}").split()
            self.assertEqual(flags, ["0", "1"], "alternate screen, cursor after %s" % sig)
            self.assertNoSanitizerReport(c.stderr(), "the console after %s" % sig)
            c.close()

    def test_sort_change(self):
        c = self.start()
        c.keys("s")                                     # the sort menu
        c.wait("Sort by")
        for _ in range(8):                              # TTL is first, requests ninth
            c.keys("Down")
        c.keys("Enter")
        s = c.wait("sort requests ▼")
        header = c.line_with("USER ", s)
        self.assertIn("REQS▼", header)
        first = s.split("\n")[s.split("\n").index(header) + 1]
        self.assertTrue(first.startswith("张伟测试 "), first)      # A4: 12 requests
        self.assertRegex(first, r" 12 ")
        c.keys("I")                                     # invert
        s = c.wait("sort requests ▲")
        self.assertIn("REQS▲", c.line_with("USER ", s))
        c.keys(">")                                     # next column: created
        c.wait("sort created ▼")
        c.keys("<", "<")
        c.wait("sort api format ▲")
        c.quit(self)

    def test_detail_view(self):
        c = self.start()
        c.keys("/")
        c.type(K_MAIN)
        c.wait('(API key)')
        c.keys("Enter")                                 # keep the filter
        c.wait("Filter kept")
        c.keys("Enter")                                 # open the first row: A1
        s = c.wait("Affinity detail")
        a1 = AFFINITIES[0]
        fields = {}
        for line in s.split("\n"):
            m = re.match(r"^ (\w+) +(.*\S)\s*$", line)
            if m:
                fields[m.group(1)] = m.group(2)
        self.assertEqual(fields["redis_key"], self.fx.affinity_key(a1))
        self.assertEqual(fields["affinity_key"], K_MAIN)
        self.assertEqual(fields["user_id"], U_ALICE)
        self.assertEqual(fields["username"], "alice")
        self.assertEqual(fields["provider_id"], P_ANT)
        self.assertEqual(fields["provider_name"], "Anthropic Main")
        self.assertEqual(fields["endpoint_url"], "https://api.anthropic.example/v1")
        self.assertEqual(fields["key_name"], "ant-key-1")
        self.assertEqual(fields["user_api_key_prefix"], self.fx.api_keys[K_MAIN]["masked"])
        self.assertEqual(fields["key_prefix"], self.fx.provider_keys[fixture.PK_ANT1]["masked"])
        self.assertEqual(fields["global_model_id"], G_SONNET)
        self.assertEqual(fields["model_name"], "claude-sonnet-4")
        self.assertEqual(fields["request_count"], "5")
        self.assertRegex(fields["ttl_remaining"], r"^5\dm\d\ds$")
        # no plaintext secret anywhere
        for k in list(self.fx.api_keys.values()) + list(self.fx.provider_keys.values()):
            if k["plaintext"] and len(k["plaintext"]) > 12:
                self.assertNotIn(k["plaintext"], s)
        c.keys("Escape")
        c.wait("rows 1–3 of 3")
        c.quit(self)

    def test_groups_narrow_the_table(self):
        c = self.start()
        c.keys("Tab")                                   # Tab: the next view
        c.wait("(Left/Right: grouping")
        c.keys("BTab")
        c.wait("rows 1")
        c.keys("2")
        s = c.wait("(Left/Right: grouping")
        first = c.line_with("alice ", s)                # alice has the most affinities
        self.assertIn(U_ALICE, first)
        self.assertRegex(first, r"\s%d\s" % ALICE_ROWS)
        c.keys("Enter")
        c.wait("user = alice")
        self.assertIn("rows 1–%d of %d" % (ALICE_ROWS, ALICE_ROWS), c.position())
        c.keys("Escape")
        c.wait("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS))
        c.keys("2", "Right")                            # providers
        s = c.wait(re.compile(r"^PROVIDER ", re.M))
        self.assertIn("Anthropic Main", s)
        c.keys("Right")                                 # models
        c.wait(re.compile(r"^MODEL ", re.M))
        c.command("q")                                  # :q quits too
        self.assertIn("[exited 0]", c.wait("[exited"))
        self.assertNoSanitizerReport(c.stderr(), "the console quit with :q")

    def test_mapping_view(self):
        # the same core answer as `aethertop mappings --json`
        rc, out, err = self.ctx.run_aethertop(["mappings", "--json"], env=fixture.dev_env())
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        b = data["breakdown"]
        c = self.start()
        c.keys("3")
        # the whole view, not a frame caught half-way through being drawn
        s = c.wait(lambda t: "Name mappings (" in t and "Unmapped (" in t and "unknown-model" in t)
        self.assertIn("Breakdown: %d keys · model:id %d · provider_global %d · global_model:id %d · "
                      "name %d · resolve %d" % (data["total_keys"], b["model_by_id"],
                                                b["model_by_provider_global"], b["global_model_by_id"],
                                                b["global_model_by_name"], b["global_model_resolve"]), s)
        self.assertIn("Provider mappings (%d)" % len(data["provider_model_mappings"]), s)
        self.assertIn("Unmapped (%d)" % len(data["unmapped"]), s)
        names = c.line_with("Name mappings (", s)
        self.assertIn("Name mappings (%d)" % len(data["mappings"]), names)
        for name in ("sonnet", "claude-sonnet", "克劳德", "4o", "gemini-pro", "gpt-4o-2024-08-06"):
            self.assertRegex(s, r"(?m)^%s\s" % re.escape(name))
        self.assertRegex(s, r"(?m)^sonnet +claude-sonnet-4 +Claude Sonnet 4 +Anthropic Main, OpenAI Proxy +\d")
        self.assertRegex(s, r"(?m)^claude-sonnet +claude-sonnet-4 +Claude Sonnet 4 +Anthropic Main +\d")
        prov = c.line_with("Provider mappings (", s)
        self.assertRegex(prov, r"Provider mappings \(\d+\)")
        hits = c.line_with("Anthropic Main ", s[s.index("Provider mappings"):])
        self.assertRegex(hits, r"sonnet.* 42$")
        unm = s[s.index("Unmapped ("):]
        self.assertRegexAll(unm, [r"(?m)^aaa-array\s+error", r"(?m)^broken\s+invalid",
                                  r"(?m)^unknown-model\s+not_found"])
        # the lists scroll independently
        c.keys("Right")
        c.wait("Provider mappings: 1 of")
        c.keys("Down")
        c.wait("Provider mappings: 2 of")
        c.quit(self)

    def test_columns_scroll_to_the_masked_keys(self):
        c = self.start()
        c.keys("Right")                                 # USER scrolls off: the user key fits
        c.wait(re.compile(r"(?m)^KEY NAME +USER KEY +PROVIDER "))
        self.assertTrue(c.position().endswith(" · ←/→ more columns"), c.position())
        c.keys("/")
        c.type(K_MAIN)
        c.wait("(API key)")
        c.keys("Enter")
        s = c.wait("Filter kept")
        row = c.line_with("main-key", s)
        self.assertTrue(row.startswith("main-key "), row)
        self.assertIn(self.fx.api_keys[K_MAIN]["masked"], row)
        c.keys("Right", "Right")                        # ... then the provider key's
        s = c.wait(re.compile(r"(?m)^PROVIDER +ENDPOINT +PROV KEY +PROVIDER KEY "))
        row = [l for l in s.split("\n") if l.startswith("Anthropic Main ")][0]
        self.assertIn(self.fx.provider_keys[fixture.PK_ANT1]["masked"], row)
        c.keys("Left", "Left", "Left")
        c.wait(re.compile(r"(?m)^USER +KEY NAME +PROVIDER "))
        c.quit(self)

    def test_paging_needs_rows(self):
        # the fixture fits on one page: PgDn and End keep rows 1–N, page 1/1
        c = self.start()
        c.wait("Formats")                               # the stats pane is drawn
        whole = "rows 1–%d of %d · page 1/1 ·" % (LIVE_ROWS, LIVE_ROWS)
        self.assertIn(whole, c.position())
        # each key is followed by t (the stats pane on/off), whose effect shows
        # on screen: keys are read in order, so PgDn/End were handled by then
        for key, pane in (("NPage", False), ("End", True)):
            c.keys(key, "t")
            s = c.wait(lambda s, pane=pane: ("Formats" in s) == pane)
            self.assertIn(whole, c.position(s), "after %s" % key)
            header = c.line_with("USER ", s)
            first = s.split("\n")[s.split("\n").index(header) + 1]
            self.assertTrue(first.startswith("bob "), "the first row stays on top after %s: %r" % (key, first))
        c.quit(self)

    def test_help_and_config(self):
        c = self.start()
        seen = c.help_text()                            # page through the whole help
        self.assertRegexAll(seen, [r"d, F9, Del +clear the selected affinity / mapping entry", r"q, F10 +quit",
                                   r"X +clear ALL affinities",
                                   r":clear provider ID +clear every affinity of that provider", r"y, Y +yes, do it",
                                   r"n, N, Esc, Enter, q +no \(the default: Enter alone cancels\)"])
        c.keys("Escape")
        c.wait("rows 1")
        c.keys("5")
        s = c.wait("cache_ttl_seconds")
        self.assertRegexAll(s, [r"cache_ttl_seconds +300", r"stable_max_reservation +0\.35",
                                r"ENCRYPTION_KEY +development default", r"Theme +default \(256 colours\)"])
        c.quit(self)

    def test_theme_load_error(self):
        tmp = tempfile.mkdtemp(prefix="at-theme-")
        self.addCleanup(shutil.rmtree, tmp, True)
        bad = os.path.join(tmp, "bad.theme")
        with open(bad, "w") as f:
            f.write("# a broken theme\nnormal = white black\nrow = purpel black\n")
        c = self.start("--theme", bad)
        s = c.wait("theme error")
        self.assertIn("theme error: %s:3: unknown colour \"purpel\"" % bad, s)
        self.assertIn("using the default theme", s)
        c.keys("5")
        c.wait(re.compile(r"Theme +default \(256 colours\)"))
        # a good theme by name, from the shipped folder
        c.command("theme light")
        c.wait("Theme light")
        c.command("theme no-such-theme")
        c.wait('theme error: theme "no-such-theme" not found')
        c.quit(self)

    def test_user_theme_folder_and_no_color(self):
        c = self.start(env={"NO_COLOR": "1"})
        c.keys("5")
        c.wait(re.compile(r"Theme +monochrome"))
        c.quit(self)
        tmp = tempfile.mkdtemp(prefix="at-xdg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "aethertop", "themes"))
        with open(os.path.join(tmp, "aethertop", "themes", "mine"), "w") as f:
            f.write("normal = green black\nrow.selected = black green bold\n")
        c = self.start("--theme", "mine", env={"XDG_CONFIG_HOME": tmp})
        c.keys("5")
        c.wait(re.compile(r"Theme +mine \(256 colours\)"))
        c.quit(self)
        # an 8-colour terminal: the 256-colour theme is folded, the console runs
        c = self.start("--theme", "high-contrast", env={"TERM": "xterm"})
        c.keys("5")
        c.wait(re.compile(r"Theme +high-contrast \(8 colours\)"))
        c.quit(self)

    def test_resize(self):
        c = self.start()
        c.resize(60, 20)
        s = c.wait("terminal too small: 60x20")
        self.assertIn("need at least 80x24", s)
        self.assertNotIn("rows 1", s)
        c.resize(80, 24)
        s = c.wait("rows 1")
        self.assertEqual(c.lines()[-1],
                         "F1Help  F2Cmd   F3SearchF4Stats F5ReloadF6SortByF7Pause F8Copy  F9Clear F10Quit")
        self.assertTrue(all(cells(l) <= 80 for l in s.split("\n")))
        c.resize(120, 40)
        c.wait(lambda s: "rows 1–%d" % LIVE_ROWS in s and "Formats" in s)
        c.quit(self)

    def test_hostile_data_shown_safely(self):
        c = self.start(clipboard=True)
        s = c.wait("evil")
        # ESC and BEL from data are shown as visible placeholders, never sent
        self.assertRegex(c.line_with("evil", s), r"^evil␛\]52;c;")
        self.assertNotIn("\x1b", s)
        self.assertNotIn("\x07", s)
        # the screen was not cleared behind ncurses' back: header and bar intact
        self.assertIn("PG ok", c.lines()[0])
        self.assertTrue(c.lines()[-1].startswith("F1Help"))
        # and nothing reached the clipboard
        self.assertNotIn("hacked", c.clipboard())
        # the detail view shows the whole name, still harmless (C1 CSI -> U+FFFD)
        c.keys("/")
        c.type(K_EVIL)
        c.wait("(API key)")
        c.keys("Enter", "Enter")
        s = c.wait("Affinity detail")
        self.assertRegex(s, r"username +evil␛\]52;c;aGFja2Vk␇␛\[2J␇bell")
        self.assertRegex(s, r"user_api_key_name +k␛\[31mred\ufffd1m")
        self.assertNotIn("\x1b", s)
        self.assertNotIn("hacked", c.clipboard())
        c.keys("Escape", "Escape")
        c.wait("rows 1–%d" % LIVE_ROWS)
        # CJK names take two cells each: the columns after them still line up
        s = c.screen()
        header = c.line_with("USER ", s)
        zhang = c.line_with("张伟测试", s)
        self.assertEqual(col_of(zhang, "张伟的钥匙"), col_of(header, "KEY NAME"))
        self.assertEqual(col_of(zhang, "Anthropic Main"), col_of(header, "PROVIDER"))
        self.assertTrue(all(cells(l) <= 120 for l in s.split("\n")))
        # the fixture's provider key with ESC [2J inside its masked value (A4)
        c.keys("/")
        c.type(fixture.K_ZHANG)
        c.wait("(API key)")
        c.keys("Enter")
        c.wait("Filter kept")
        c.keys("Enter")
        s = c.wait("Affinity detail")
        self.assertRegex(s, r"key_name +ant-key-2")
        self.assertIn("sk-␛[2J-********tail", s)
        c.quit(self)

    def test_copy_ids_with_osc52(self):
        c = self.start(clipboard=True)
        c.keys("/")
        c.type(K_MAIN)
        c.wait("(API key)")
        c.keys("Enter", "y")
        c.wait("to the clipboard (OSC 52)")
        got = harness.wait_for(lambda: c.clipboard(), timeout=5)
        self.assertIn("affinity_key=%s\n" % K_MAIN, got)
        self.assertIn("user_id=%s\n" % U_ALICE, got)
        self.assertIn("provider_id=%s\n" % P_ANT, got)
        self.assertIn("redis_key=%s\n" % self.fx.affinity_key(AFFINITIES[0]), got)
        c.quit(self)


class LiveTest(ConsoleTest):
    """Refreshing: pause, refresh now, interval, TTL countdown, selection."""

    def put_affinity(self, n, expire_in, redis_ttl=600, provider=P_ANT):
        now = time.time()
        key = "cache_affinity:%s:CLAUDE:live-model-%d" % (K_MAIN, n)
        self.ctx.redis("SETEX", key, redis_ttl, json.dumps({
            "provider_id": provider, "endpoint_id": fixture.E_ANT_CLAUDE, "key_id": fixture.PK_ANT1,
            "api_format": "CLAUDE", "model_name": "live-model-%d" % n, "created_at": now,
            "expire_at": now + expire_in, "request_count": 1}))
        return key

    def test_pause_refresh_now_and_interval(self):
        c = self.start("--delay", "1")
        c.wait("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS))
        c.keys("z")
        c.wait(lambda s: "PAUSED" in s.split("\n")[0])
        # a refresh that began before the pause may still land: wait until
        # none has for two intervals before writing what must not show
        c.wait(lambda s: any(float(a) >= 2.0 for a in re.findall(r"updated (\d+\.\d) s ago", s)))
        self.put_affinity(1, LONG_TTL + 5000)
        time.sleep(3)                                   # three intervals: nothing moves
        self.assertIn("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS), c.position())
        self.assertNotIn("live-model-1", c.screen())
        c.keys("r")                                     # one refresh, still paused
        c.wait("rows 1–%d of %d" % (LIVE_ROWS + 1, LIVE_ROWS + 1))
        self.assertIn("live-model-1", c.screen())
        self.assertIn("PAUSED", c.lines()[0])
        self.put_affinity(2, LONG_TTL + 6000)
        time.sleep(2.5)
        self.assertNotIn("live-model-2", c.screen())
        c.keys("z")                                     # resume
        c.wait("live-model-2")
        c.wait(lambda s: "PAUSED" not in s.split("\n")[0])
        c.keys("+")
        c.wait("every 2 s")
        c.keys("+", "+")
        c.wait("every 5 s")
        c.keys("-")
        c.wait("every 3 s")
        c.quit(self)

    def test_ttl_counts_down_and_expired_rows_leave(self):
        # 10 s: enough for the console to start on a slow machine before it passes
        expire_in = 10
        t0 = time.time()
        key = self.put_affinity(3, expire_in, redis_ttl=600)    # Redis keeps it; expire_at passes
        c = self.start("--delay", "600")                # no refresh during the test

        def ttl_shown(s):
            """The TTL cell of the live-model-3 row in seconds (None: no row)."""
            for l in s.split("\n"):
                if l.startswith("alice ") and "live-model-3" in l:
                    m = re.search(r" (\d+)s ", l)
                    self.assertTrue(m, "no TTL in seconds: %r" % l)
                    return int(m.group(1))
            return None

        s = c.wait(lambda s: ttl_shown(s) is not None)
        first = ttl_shown(s)
        self.assertIn("rows 1–%d of %d" % (LIVE_ROWS + 1, LIVE_ROWS + 1), c.position())
        # what is left of expire_at, never more
        self.assertLessEqual(first, expire_in)
        self.assertGreaterEqual(first, expire_in - (time.time() - t0) - 1)
        # it counts down on screen without a refresh
        c.wait(lambda s: ttl_shown(s) is not None and ttl_shown(s) < first or ttl_shown(s) is None)
        c.wait(lambda s: ttl_shown(s) is None, timeout=expire_in + 15)
        self.assertIn("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS), c.position())
        self.assertIn(key.encode(), self.ctx.r.keys("cache_affinity:*"))   # still in Redis
        c.quit(self)

    def test_selection_stays_on_the_same_affinity(self):
        c = self.start("--delay", "1")
        c.wait("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS))
        for _ in range(4):
            c.keys("Down")
        time.sleep(0.5)
        c.keys("Enter")
        s = c.wait("Affinity detail")
        chosen = re.search(r"redis_key +(\S+)", s).group(1)
        c.keys("Escape")
        c.wait("rows 1–")
        row_before = [i for i, l in enumerate(c.lines()) if l.startswith("alice ") and "main-key" in l]
        # three new affinities sort above it (more time left)
        for n in range(4, 7):
            self.put_affinity(n, LONG_TTL + 9000 + n)
        c.wait("rows 1–%d of %d" % (LIVE_ROWS + 3, LIVE_ROWS + 3))
        c.keys("Enter")
        s = c.wait("Affinity detail")
        self.assertEqual(re.search(r"redis_key +(\S+)", s).group(1), chosen)
        self.assertTrue(row_before)
        c.quit(self)


    def test_the_first_row_stays_the_first(self):
        """A selection on the first row is the top of the table, not an
        affinity to follow: rows that now sort above it show up above, and
        the first row (the new one) is the one selected."""
        c = self.start("--delay", "1")
        c.wait("rows 1–%d of %d" % (LIVE_ROWS, LIVE_ROWS))
        for n in range(4, 7):
            newest = self.put_affinity(n, LONG_TTL + 9000 + n)
        c.wait("rows 1–%d of %d" % (LIVE_ROWS + 3, LIVE_ROWS + 3))
        time.sleep(1.5)                                 # another refresh: still at the top
        self.assertTrue(c.position().strip().startswith("rows 1–%d of %d" % (LIVE_ROWS + 3, LIVE_ROWS + 3)),
                        c.position())
        c.keys("Enter")
        s = c.wait("Affinity detail")
        self.assertEqual(re.search(r"redis_key +(\S+)", s).group(1), newest)
        c.quit(self)


class PagingTest(harness.IntegrationTest):
    """Enough rows for pages: the simulator's data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.need_tools("tmux")
        cls.ctx.seed(users=40, affinities=300, min_ttl=900)

    def test_paging(self):
        c = Console(self.ctx, ["--delay", "30"], env={"ENCRYPTION_KEY": harness.ENCRYPTION_KEY})
        self.addCleanup(c.close)
        c.wait("rows 1")
        # 40 rows: header 2, stats pane 7, column header 1, position 1, bottom 2 -> 27
        self.assertEqual(c.position().strip().split(" · ")[:2], ["rows 1–27 of 300", "page 1/12"])
        c.keys("NPage")
        c.wait("rows 28–54 of 300 · page 2/12")
        c.keys("NPage", "NPage")
        c.wait("rows 82–108 of 300 · page 4/12")
        c.keys("PPage")
        c.wait("rows 55–81 of 300 · page 3/12")
        c.keys("End")
        c.wait("rows 274–300 of 300 · page 12/12")
        c.keys("Home")
        c.wait("rows 1–27 of 300 · page 1/12")
        c.keys("G")
        c.wait("page 12/12")
        c.keys("g")
        c.wait("page 1/12")
        c.keys("t")                                     # hide the stats pane: 34 rows a page
        c.wait("rows 1–34 of 300 · page 1/9")
        c.keys(*["j"] * 34)                             # one past the page: it scrolls by a row
        c.wait("rows 2–35 of 300 · page 2/9")
        c.keys("k")                                     # back up: the rows stay, the page is 1 again
        c.wait("rows 2–35 of 300 · page 1/9")
        c.quit(self)


if __name__ == "__main__":
    harness.main()
