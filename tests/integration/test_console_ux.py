"""Console defects found by using it as an on-call engineer would (tmux screen
tests, see test_console_screen.py for the Console helper and the fixture):

- a joined emoji (ZWJ sequence) or an emoji-presentation selector in Redis
  data must not shift the columns after it (tmux draws the joined sequence
  narrower than wcwidth counts it, which left stale cells on the line);
- a long `:` command or search shows its end (what is being typed), not its
  beginning cut off at the edge;
- on a terminal without colours (TERM=vt100) a colour theme still tells the
  table header and the function-key bar apart from the rows;
- keys the terminfo entry does not know (F12 on vt100) are dropped whole,
  not read as Esc + characters; PgUp/PgDn/F-keys work there;
- `:sort` takes the column names of the table (ttl, reqs, ...) and lists
  them when it does not know one;
- every one-character key the README's console section names is bound;
- the help wraps its long lines at 80 columns instead of cutting them;
- Ctrl-S (XON/XOFF) does not freeze the screen."""

import json
import os
import re
import time

import fixture
import harness
import test_console_screen as tcs
from fixture import G_SONNET, P_ANT

# API key ids known to no table: the rows show the raw ids, and searching
# for the id picks exactly that row
K_ZWJ = fixture.uid(2, 71)
ZWJ_MODEL = "dev\U0001F469\u200d\U0001F4BBmodel\u2764\ufe0f"


class UxTest(tcs.ConsoleTest):

    def put(self, key, model, fmt="OPENAI"):
        now = time.time()
        self.ctx.redis("SETEX", "cache_affinity:%s:%s:%s" % (key, fmt, model), tcs.LONG_TTL + 900, json.dumps({
            "provider_id": P_ANT, "endpoint_id": fixture.E_ANT_CLAUDE, "key_id": fixture.PK_ANT1,
            "api_format": fmt, "model_name": model, "created_at": now - 5,
            "expire_at": now + tcs.LONG_TTL + 100, "request_count": 3}))

    def capture_attrs(self, c):
        return c.tmux("capture-pane", "-p", "-e", "-t", "t").rstrip("\n").split("\n")

    def test_joined_emoji_keeps_the_columns(self):
        self.put(K_ZWJ, ZWJ_MODEL)
        c = self.start()
        c.keys("/")
        c.type(K_ZWJ)
        s = c.wait("rows 1–1 of 1")
        header = c.line_with("USER ", s)
        row = [l for l in s.split("\n") if l.startswith(K_ZWJ[:8])][0]   # the user column: the raw id
        # the joiner and the selector never reach the terminal ...
        self.assertNotIn("\u200d", s)
        self.assertNotIn("\ufe0f", s)
        # ... so the pieces sit side by side and what follows lines up
        self.assertIn("\U0001F469\U0001F4BBmodel", row)
        self.assertEqual(tcs.col_of(row, "OPENAI"), tcs.col_of(header, "FORMAT"), row)
        self.assertEqual(tcs.cells(row.rstrip()), tcs.cells(header.rstrip()), row)
        c.keys("Enter")
        c.wait("Filter kept")
        c.keys("Enter")                                 # the detail view: the whole name
        s = c.wait("Affinity detail")
        self.assertNotIn("\u200d", s)
        self.assertRegex(s, "model_name +dev\U0001F469\U0001F4BBmodel\u2764")
        c.quit(self)

    def test_long_prompt_shows_what_is_typed(self):
        c = self.start(width=80, height=24)
        c.keys(":")
        text = "clear provider-mapping %s %s" % (fixture.uid(9, 1), fixture.uid(9, 2))
        c.type(text)
        line = c.wait(text[-12:])
        status = c.lines()[-2]
        self.assertTrue(status.startswith(":…"), status)
        self.assertIn(text[-40:], status)
        self.assertLessEqual(tcs.cells(status), 80)
        c.keys("Escape")
        c.wait(lambda s: not s.split("\n")[-2].startswith(":"))
        # the search box too
        c.keys("/")
        c.type("x" * 70 + "TAILTEXT")
        c.wait(lambda s: s.split("\n")[-2].startswith("Search: …") and "TAILTEXT" in s.split("\n")[-2])
        self.assertLessEqual(tcs.cells(c.lines()[-2]), 80)
        # a short input is shown from its start, with the hint
        c.keys("C-u")
        c.type("bob")
        c.wait(lambda s: s.split("\n")[-2].startswith("Search: bob ") and "Esc clears" in s.split("\n")[-2])
        del line
        c.keys("Escape")
        c.wait(lambda s: not s.split("\n")[-2].startswith("Search:"))
        c.quit(self)

    def test_colour_theme_on_a_terminal_without_colours(self):
        c = self.start(env={"TERM": "vt100"}, width=80, height=24)
        c.wait("rows 1")
        lines = self.capture_attrs(c)
        header = [l for l in lines if re.sub(r"\x1b\[[0-9;]*m", "", l).startswith("USER ")][0]
        # the column header has an attribute of its own (not plain text like a row)
        self.assertRegex(header, r"^\x1b\[[0-9;]*(1|4|7)[0-9;]*m", repr(header))
        # the function-key bar: keys and labels drawn differently
        bar = lines[-1]
        self.assertRegex(bar, r"\x1b\[[0-9;]*m.*F1.*\x1b\[[0-9;]*m.*Help", repr(bar))
        self.assertRegex(bar, r"\x1b\[[0-9;]*7m(?:\x1b\[[0-9;]*m)*Help", repr(bar))
        c.keys("5")
        c.wait("cache_ttl_seconds")
        c.keys("G")                                     # the end of the list: the theme
        c.wait(re.compile(r"Theme +default \(no colours: monochrome attributes\)"))
        c.quit(self)

    def test_keys_the_terminfo_entry_does_not_know(self):
        """tmux sends xterm's sequences for PgDn, Delete and F5-F12 whatever
        TERM says; vt100's entry knows none of them. PgDn/PgUp/Del/F-keys
        still work, and a sequence nobody knows is dropped whole, never read
        as Esc (which cancelled the search) followed by characters (`6`
        switched to view 6, the rest went into the search text)."""
        c = self.start(env={"TERM": "vt100"}, width=80, height=24)
        c.keys("/")
        c.type("ali")
        c.wait('search "ali"')
        c.keys("F12")                                   # bound to nothing, known to no one
        c.keys("F11")
        c.type("ce")
        c.wait('search "alice" (user)')
        self.assertTrue(c.lines()[-2].startswith("Search: alice "), c.lines()[-2])
        c.keys("Escape")
        c.wait(lambda s: "search" not in c.line_with(" rows ", s))
        c.keys("5")
        s = c.wait("cache_ttl_seconds")
        c.keys("NPage")                                 # the Config view scrolls ...
        s = c.wait(lambda t: "cache_ttl_seconds" not in t)
        self.assertIn("5 Config", c.lines()[1])         # ... and stays open
        self.assertNotIn("Prompt cache", s)
        c.keys("PPage")
        c.wait("cache_ttl_seconds")
        c.keys("F5")                                    # refresh now (xterm's F5 sequence)
        c.wait("Refreshing")
        c.quit(self)

    def test_readme_keys_are_bound(self):
        """Every one-character key the README's console section names is
        bound: it is in the key column of the help (which the keymap
        generates). The README said `A` clears all; the key is X."""
        with open(os.path.join(harness.SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        section = readme.split("## The console", 1)[1].split("\n## ", 1)[0]
        named = set(re.findall(r"`(\S)`", section))
        self.assertIn("X", named)
        c = self.start(height=60, width=140)
        seen = c.help_text(pages=3)
        bound = set()
        for line in seen.split("\n"):
            m = re.match(r"^   (\S.*?)\s{2,}\S", line)
            if m:
                bound.update(k.strip() for k in m.group(1).split(", "))
        self.assertIn("d", bound)
        self.assertEqual(sorted(named - bound), [])
        c.keys("Escape")
        c.wait("rows 1")
        c.quit(self)

    def test_help_wraps_at_80_columns(self):
        """At 80 columns, the smallest size the console runs at, the help's
        long lines wrap under their own text instead of being cut (`type
        all to confirm` of X, the :sort column names were cut off)."""
        c = self.start(width=80, height=60)
        seen = c.help_text(pages=3)
        body = [l for l in seen.split("\n") if l.startswith("   ")]
        self.assertTrue(body)
        cut = [l for l in body if "…" in l]
        self.assertEqual(cut, [])
        self.assertRegex(seen, r"X +clear\s+ALL\s+affinities\s+\(Mappings:\s+all\s+mappings\);\s+type\s+`all`\s+to\s+confirm")
        self.assertRegex(seen, r"key_name,\s+provider,\s+endpoint,\s+prov_key,\s+model,\s+format,\s+reqs,\s+created")
        self.assertTrue(all(tcs.cells(l) <= 80 for l in seen.split("\n")))
        # Left/Right also switch the list in Hits (as the man page says)
        self.assertRegex(seen, r"previous\s+list\s+\(Mappings,\s+Hits\)")
        # continuation lines start under the text column, not under the keys
        self.assertRegex(seen, r"(?m)^   X {28}clear ALL affinities \(Mappings: all mappings\);\n {32}type `all` to confirm$")
        c.keys("Escape")
        c.wait("rows 1")
        c.quit(self)

    def test_ctrl_s_does_not_freeze_the_screen(self):
        """Ctrl-S (a reflex: save) stopped the terminal's output with XON/XOFF
        flow control: the screen froze, showing `updated 1.4 s ago` over
        data that went on ageing, and no key had any visible effect until
        Ctrl-Q. Now Ctrl-S is an unbound key."""
        c = self.start()
        c.keys("C-s")
        c.keys("4")
        c.wait("Rates between snapshots", timeout=5)
        c.keys("C-q")
        c.keys("1")
        c.wait("rows 1")
        c.quit(self)

    def test_sort_by_the_column_titles(self):
        c = self.start()
        c.command("sort reqs")
        c.wait("sort requests ▼")
        c.command("sort TTL asc")
        c.wait("sort TTL (expire_at) ▲")
        c.command("sort key")
        s = c.wait('unknown column "key"')
        self.assertIn("ttl", c.lines()[-2])
        self.assertIn("reqs", c.lines()[-2])
        del s
        c.quit(self)


if __name__ == "__main__":
    harness.main()
