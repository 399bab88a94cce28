"""Console clears, through the screen (tmux, see test_console_screen.py):
every clear asks first, naming what goes and how many keys; the safe answer
has the focus (Enter alone cancels; n and Esc cancel; only y confirms);
clear-all kinds need a second confirmation where `all` is typed. After each
answer the whole Redis database is read back with the harness: a cancel
changes nothing, a confirmed clear removes exactly the target keys. Also:
read-only mode refuses without sending anything, and each clear writes its
audit lines (intent, then outcome).
"""

import json
import os
import re

import fixture
import harness
import test_console_screen as tcs
from fixture import (AFFINITIES, G_SONNET, K_BOB, K_BOB_EMPTY, K_MAIN, K_ZHANG, P_ANT, P_OAI)

CACHE = b"cache_affinity:"


class ClearTest(tcs.ConsoleTest):

    def setUp(self):
        super().setUp()
        self.before = self.dump()

    def dump(self):
        """{key: value} of the whole Redis database."""
        keys = self.ctx.r.keys("*")
        return self.ctx.r.mget_dict(keys) if keys else {}

    def assert_unchanged(self):
        self.assertEqual(self.dump(), self.before)

    def assert_gone_exactly(self, keys):
        keys = {k if isinstance(k, bytes) else k.encode() for k in keys}
        after = self.dump()
        self.assertTrue(keys <= set(self.before), "targets must exist before: %s" % (keys - set(self.before)))
        expected = {k: v for k, v in self.before.items() if k not in keys}
        self.assertEqual(sorted(after), sorted(expected))
        self.assertEqual(after, expected)

    def affinity_keys(self, pred):
        return [self.fx.affinity_key(a) for a in AFFINITIES if pred(a)]

    def audit_lines(self, c):
        path = os.path.join(c.state, "aethertop", "audit.log")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return harness.audit_records(f.read())

    @staticmethod
    def dialog(screen):
        """The text inside the dialog box, its wrapped lines joined by spaces."""
        parts = []
        for line in screen.split("\n"):
            m = re.search(r"│ ?(.*?) *│", line)
            if m and m.group(1).strip():
                parts.append(m.group(1).strip())
        return " ".join(parts)

    def clear_by_command(self, c, command, targets, label):
        """:command, the dialog names label and counts the targets, y: exactly
        the targets are gone."""
        c.keys(":")
        c.wait(re.compile(r"(?m)^:"))
        c.type(command)
        c.keys("Enter")
        s = c.wait("Delete %d keys" % len(targets))
        self.assertIn(label, self.dialog(s))
        c.keys("y")
        c.wait("Cleared %d keys" % len(targets))
        self.assert_gone_exactly(targets)

    def select_api_key(self, c, key_id, rows):
        c.keys("/")
        c.type(key_id)
        c.wait('search "%s" (API key)' % key_id)
        c.keys("Enter")
        c.wait("rows 1–%d of %d" % (rows, rows))

    # ------------------------------------------------------------ tests

    def test_clear_one_cancel(self):
        c = self.start()
        self.select_api_key(c, K_MAIN, 3)
        a1 = self.fx.affinity_key(AFFINITIES[0])
        for answer in (["Enter"], ["n"], ["Escape"], ["N"]):
            c.keys("d")
            s = c.wait("Delete 1 key from Redis 127.0.0.1:%d/%d:" % (harness.REDIS_PORT, self.ctx.redis_db))
            self.assertIn("Clear this affinity", s)
            self.assertIn("[ No ]", s)
            self.assertIn("y: Yes, delete", s)
            self.assertIn("the affinity of alice / main-key -> Anthropic Main, model Claude Sonnet 4 "
                          "(cache_affinity:%s:CLAUDE:" % K_MAIN, self.dialog(s))
            c.keys(*answer)
            c.wait("Cancelled: nothing was deleted.")
            c.wait("Clear this affinity", absent=True)
            self.assert_unchanged()
        # F9 is the same request
        c.keys("F9")
        c.wait("Delete 1 key")
        c.keys("Enter")
        c.wait("Clear this affinity", absent=True)
        self.assert_unchanged()
        self.assertEqual(self.audit_lines(c), [])
        self.assertIn(a1.encode(), self.dump())
        c.quit(self)

    def test_clear_one_confirm(self):
        c = self.start()
        self.select_api_key(c, K_MAIN, 3)
        c.keys("d")
        c.wait("Delete 1 key from Redis")
        c.keys("y")
        c.wait("Cleared 1 key: the affinity of alice / main-key")
        a1 = self.fx.affinity_key(AFFINITIES[0])
        self.assert_gone_exactly([a1])
        c.wait("rows 1–2 of 2")                       # refreshed at once
        lines = self.audit_lines(c)
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["operation"], "clear_affinity")
        self.assertEqual(lines[0]["count"], 1)
        self.assertEqual(lines[0]["args"], [K_MAIN, fixture.E_ANT_CLAUDE, G_SONNET, "CLAUDE", a1])
        c.quit(self)

    def test_clear_one_deletes_the_rows_own_key(self):
        """A5's key says "claude", its value "CLAUDE_CLI" (the row shows the
        value's): d deletes A5's own key, not the key the value's fields would
        name, which here exists too, on the same endpoint."""
        a5 = self.fx.affinity_key(AFFINITIES[4])
        self.assertIn(":claude:", a5)
        decoy = "cache_affinity:%s:CLAUDE_CLI:%s" % (K_ZHANG, G_SONNET)
        v = self.fx.affinity_value(AFFINITIES[4])
        v["expire_at"] = self.fx.now + 5                # listed after A4 (45 s) and A5 (15 s)
        self.ctx.r.execute("SETEX", decoy, 900, json.dumps(v))
        self.before = self.dump()
        c = self.start()
        self.select_api_key(c, K_ZHANG, 3)
        c.keys("Down")
        c.keys("d")
        c.wait("Delete 1 key")
        c.keys("y")
        c.wait("Cleared 1 key")
        self.assert_gone_exactly([a5])
        self.assertEqual(self.audit_lines(c)[-1]["args"][-1], a5)
        c.quit(self)

    def test_clear_user_command_with_an_api_key_id(self):
        """:clear user ID, ID an API key id: that key's affinities alone (the
        reference's order), not those of all its user's keys."""
        c = self.start()
        targets = self.affinity_keys(lambda a: a[1] == K_BOB)
        everything_of_bob = self.affinity_keys(lambda a: a[1] in (K_BOB, K_BOB_EMPTY))
        self.assertLess(len(targets), len(everything_of_bob))
        self.clear_by_command(c, "clear user %s" % K_BOB, targets,
                              "all affinities of API key bob-laptop (%s)" % K_BOB)
        c.quit(self)

    def test_quit_right_after_confirming(self):
        """y and q in one go: the confirmed clear is not dropped. It runs (or
        finishes) before the console exits, its outcome is printed on stderr
        (the screen is gone) and audited."""
        c = self.start()
        self.select_api_key(c, K_MAIN, 3)
        c.keys("d")
        c.wait("Delete 1 key from Redis")
        c.keys("y", "q")
        s = c.wait("[exited", timeout=20)
        self.assertIn("[exited 0]", s)
        self.assertIn("Cleared 1 key: the affinity of alice / main-key", c.stderr())
        self.assert_gone_exactly([self.fx.affinity_key(AFFINITIES[0])])
        self.assertEqual([r["outcome"] for r in self.audit_lines(c)], ["done"])

    def test_clear_all_double_confirmation(self):
        c = self.start()
        n = len([k for k in self.before if k.startswith(CACHE)])
        c.keys("X")
        s = c.wait("Delete %d keys from Redis" % n)
        self.assertIn("Clear ALL affinities", s)
        c.keys("Enter")                                # Enter alone: no
        c.wait("Cancelled: nothing was deleted.")
        self.assert_unchanged()
        c.keys("X")
        c.wait("Delete %d keys" % n)
        c.keys("y")
        c.wait("Second confirmation: type  all  and press Enter.")
        c.keys("y")                                    # another y is not enough
        c.keys("Enter")
        c.wait('Not confirmed (you must type "all"): nothing was deleted.')
        self.assert_unchanged()
        c.keys("X")
        c.wait("Delete %d keys" % n)
        c.keys("y")
        c.wait("Second confirmation")
        c.type("al")
        c.keys("Escape")
        c.wait("Cancelled: nothing was deleted.")
        self.assert_unchanged()
        c.keys("X")
        c.wait("Delete %d keys" % n)
        c.keys("y")
        c.wait("Second confirmation")
        c.type("all")
        c.keys("Enter")
        c.wait("Cleared %d keys: ALL cache affinities" % n)
        self.assert_gone_exactly([k for k in self.before if k.startswith(CACHE)])
        c.wait("rows 0–0 of 0")
        self.assertIn("No live cache affinities in Redis.", c.screen())
        # nothing left: the dialog says so and offers no Yes; y sends nothing
        audit = len(self.audit_lines(c))
        after = self.dump()
        for ask in ("X", ":clear all"):
            if ask == "X":
                c.keys("X")
            else:
                c.keys(":")
                c.wait(re.compile(r"(?m)^:"))
                c.type("clear all")
                c.keys("Enter")
            s = c.wait("Nothing matches right now: there is nothing to delete.")
            self.assertIn("No key to delete in Redis", s)
            self.assertIn("Enter/Esc: Close", s)
            self.assertNotIn("Yes", self.dialog(s))
            c.keys("y")
            c.wait("Nothing matches: nothing was deleted.")
            self.assertNotIn("Second confirmation", c.screen())
        self.assertEqual(self.dump(), after)
        self.assertEqual(len(self.audit_lines(c)), audit, "nothing was sent, nothing to audit")
        c.keys("2")                                    # Groups: says why it is empty
        c.wait("No live cache affinities in Redis: nothing to group.")
        c.quit(self)

    def test_clear_provider_by_command(self):
        c = self.start()
        targets = self.affinity_keys(lambda a: a[4] == P_OAI)
        self.clear_by_command(c, "clear provider %s" % P_OAI, targets,
                              "all affinities of provider OpenAI Proxy (%s)" % P_OAI)
        c.quit(self)

    def test_clear_user_and_key_of_the_row(self):
        c = self.start()
        # the first row (most time left) is bob's A6
        self.assertTrue(c.line_with("bob-laptop").startswith("bob "))
        c.keys("K")
        s = c.wait("Delete 2 keys")
        self.assertIn("all affinities of API key bob-laptop (%s) of user bob" % K_BOB, self.dialog(s))
        c.keys("n")
        c.wait("Cancelled")
        self.assert_unchanged()
        c.keys("U")
        bobs = self.affinity_keys(lambda a: a[1] in (K_BOB, K_BOB_EMPTY))
        s = c.wait("Delete %d keys" % len(bobs))      # both of bob's keys, the expired one too
        self.assertIn("all affinities of every API key of user bob", self.dialog(s))
        c.keys("y")
        c.wait("Cleared %d keys" % len(bobs))
        self.assert_gone_exactly(bobs)
        c.quit(self)

    def test_clear_provider_of_the_row(self):
        c = self.start()
        self.select_api_key(c, K_MAIN, 3)             # A1: Anthropic Main first
        # reference invalidate_all_for_provider: every value that is a JSON
        # object with that provider_id (as test_cli_clear's provider_targets)
        targets = self.affinity_keys(lambda a: a[4] == P_ANT) + [tcs.EVIL_AFFINITY]
        for _reason, key, value in fixture.HOSTILE:
            try:
                v = json.loads(value)
            except ValueError:
                continue
            if isinstance(v, dict) and v.get("provider_id") == P_ANT:
                targets.append(key)
        c.keys("P")
        s = c.wait("Delete %d keys" % len(targets))
        self.assertIn("all affinities of provider Anthropic Main (%s)" % P_ANT, self.dialog(s))
        c.keys("y")
        c.wait("Cleared %d keys" % len(targets))
        self.assert_gone_exactly(targets)
        c.quit(self)

    def test_read_only_refuses(self):
        c = self.start("--read-only")
        self.assertIn("READ-ONLY", c.lines()[0])
        c.keys("d")
        c.wait("READ-ONLY: clearing is disabled (--read-only); nothing was sent.")
        # X and :clear all open no dialog. (wait("READ-ONLY") held before the
        # keys were read: the header says it.) Each is followed by 5, the
        # config view: keys are read in order, and an open dialog would keep
        # it away; a dialog closed by the command's Enter would say Cancelled
        c.keys("X", "5")
        s = c.wait("cache_ttl_seconds")
        self.assertNotIn("Delete", s)
        c.keys("1")
        c.wait(lambda s: "cache_ttl_seconds" not in s and "rows 1" in s)
        c.command("clear all")
        c.keys("5")
        s = c.wait("cache_ttl_seconds")
        self.assertNotIn("Delete", s)
        self.assertNotIn("Cancelled", s)
        self.assertIn("READ-ONLY", s.split("\n")[0])
        self.assert_unchanged()
        c.quit(self)

    def test_mapping_clears(self):
        c = self.start()
        c.keys("3")
        s = c.wait("Name mappings (")
        first = s.split("\n")[s.split("\n").index(c.line_with("REQUESTED NAME", s)) + 1]
        self.assertTrue(first.startswith("4o "), first)
        c.keys("d")
        s = c.wait("Delete 1 key")
        self.assertIn("mapping name 4o (global_model:resolve:4o and global_model:name:4o)", self.dialog(s))
        c.keys("y")
        c.wait("Cleared 1 key: mapping name 4o")
        self.assert_gone_exactly(["global_model:resolve:4o"])
        self.before = self.dump()
        # a provider-level mapping: the entry and its hit counter
        c.keys("Right")
        s = c.wait("Provider mappings: 1 of")
        c.keys("d")
        s = c.wait("Delete 2 keys")
        self.assertIn("provider mapping Anthropic Main / claude-sonnet-4", self.dialog(s))
        c.keys("y")
        c.wait("Cleared 2 keys: provider mapping")
        self.assert_gone_exactly(["model:provider_global:%s:%s" % (P_ANT, G_SONNET),
                                  "model:provider_global:hits:%s:%s" % (P_ANT, G_SONNET)])
        self.before = self.dump()
        # all mappings: twice confirmed; the affinities stay
        targets = [k for k in self.before if k.startswith(b"model:") or k.startswith(b"global_model:")]
        c.keys("X")
        s = c.wait("Delete %d keys" % len(targets))
        self.assertIn("Clear ALL mappings", s)
        c.keys("y")
        c.wait("Second confirmation")
        c.type("all")
        c.keys("Enter")
        c.wait("Cleared %d keys: ALL model-mapping cache entries" % len(targets))
        self.assert_gone_exactly(targets)
        c.quit(self)


if __name__ == "__main__":
    harness.main()
