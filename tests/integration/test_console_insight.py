"""Screen tests of the console's issue-6 features, on the known fixture plus
usage_fixture's usage rows (tmux, as test_console_screen does):

- 6 Hits: the last 5 minutes beside the last hour, totals and per provider /
  per model, the figures computed by hand in usage_fixture;
- 7 TTL: users per recommended TTL and the per-user rows;
- the affinity table's HIT 1h column: each row's user's token hit rate, and
  the `!` mark for users with affinities but no cache reads; the help
  explains it;
- e: export of every row shown (search and sort applied, all pages) to CSV
  and JSON, byte-identical to `aethertop list KEYWORD --csv`; an existing
  file is never overwritten; :export PATH;
- the config file's column set (--config), and a bad one reported.
"""

import csv
import io
import json
import os
import re
import shutil
import tempfile
import time

import fixture
import harness
import usage_fixture
from fixture import G_SONNET, K_GHOST, U_ALICE, U_BOB, U_CAROL
from test_console_screen import ALICE_ROWS, LIVE_ROWS, ConsoleTest


class InsightTest(ConsoleTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="at-insight-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        # fresh "minutes ago": nothing slides out of a window during a test
        self.ctx.psql(usage_fixture.sql())

    def row_of(self, screen, name):
        header = [l for l in screen.split("\n") if l.startswith("USER ")][0]
        line = [l for l in screen.split("\n") if l.startswith(name + " ")][0]
        return header, line

    # ------------------------------------------------------------ Hits

    def test_hits_view(self):
        c = self.start()
        c.keys("6")
        # both windows shown (the last hour may come first, from the HIT column's report)
        s = c.wait(re.compile(r"All requests +\d+ +\d+ +\S+ +\$\S+ +\d+"))
        self.assertIn(" 6 Hits ", c.lines()[1])
        self.assertNotIn("loading", s)
        total = c.line_with("All requests", s)
        r5, k5, _, _, sav5 = usage_fixture.window(5)
        r60, k60, _, _, sav60 = usage_fixture.window(60)
        self.assertEqual(total.split()[2:],
                         [str(r5), str(k5), usage_fixture.rate_text(5), "$%.2f" % sav5,
                          str(r60), str(k60), usage_fixture.rate_text(60), "$%.2f" % sav60], total)
        s = c.screen()
        ant = c.line_with("Anthropic Main", s)
        self.assertIn(usage_fixture.rate_text(5, provider=fixture.P_ANT), ant)
        oai = c.line_with("OpenAI Proxy", s)
        self.assertEqual(oai.split()[2:], ["2", "0", "0.0%", "$0.00", "2", "0", "0.0%", "$0.00"])
        self.assertRegexAll(s, [r"(?m)^claude-sonnet-4 +\d", r"(?m)^gpt-4o +2 +0 +0\.0%", r"queries \d+ \+ \d+ ms"])
        # r rebuilds at once; Right moves to the model list
        c.keys("Right")
        c.keys("r")
        c.wait("Reading the usage table")
        c.keys("1")
        c.wait("rows 1")
        c.quit(self)

    def test_ttl_view(self):
        c = self.start()
        c.keys("7")
        s = c.wait("Recommended affinity TTL")
        self.assertIn("over the last 24 h: 2 users", s)
        self.assertRegexAll(s, [r"(?m)^  5 min +1 ", r"(?m)^  15 min +0", r"(?m)^  30 min +1 ", r"(?m)^  60 min +0",
                                r"(?m)^alice +4 +1\.0 min +1\.0 min +1\.0 min +5 min$",
                                r"(?m)^carol +5 +20\.0 min +20\.0 min +20\.0 min +30 min$"])
        self.assertNotIn("bob ", s)                      # two requests: one interval only
        c.quit(self)

    # ------------------------------------------------------------ HIT column

    def test_hit_column_and_no_cache_mark(self):
        c = self.start()
        # the last hour's report arrives after the first refresh
        s = c.wait(re.compile(r"(?m)^alice .*75\.0%"))
        header, alice = self.row_of(s, "alice")
        col = header.index("HIT 1h")
        self.assertEqual(alice[col - 1:col + 6].strip(), "75.0%")
        _, bob = self.row_of(s, "bob")
        self.assertEqual(bob[col - 1:col + 6].strip(), "! 0.0%")
        # users with affinities and no usage at all are marked too
        _, zhang = self.row_of(s, "张伟测试")
        self.assertIn("!", zhang)
        # an affinity whose API key row is unknown has no user: no mark
        ghost = [l for l in s.split("\n") if l.startswith(K_GHOST[:12])]
        self.assertTrue(ghost, s)
        self.assertNotIn("!", ghost[0])
        # the help explains the column and the mark
        seen = c.help_text()
        self.assertIn("The HIT 1h column", seen)
        self.assertRegexAll(seen, [r"! +the user holds affinities but had no cache reads",
                                   r"6 +Hits: prompt-cache effectiveness", r"7 +TTL advice per user",
                                   r"e +export the rows shown"])
        c.quit(self)

    # ------------------------------------------------------------ export

    def put_many(self, n):
        now = time.time()
        cmds = []
        for i in range(n):
            cmds.append(("SETEX", "cache_affinity:%s:OPENAI:bulk-%03d" % (K_GHOST, i), 4000, json.dumps({
                "provider_id": fixture.P_OAI, "endpoint_id": fixture.E_OAI_OPENAI, "key_id": fixture.PK_OAI1,
                "api_format": "OPENAI", "model_name": "bulk-%03d" % i, "created_at": now - i,
                "expire_at": now + 3500 + i, "request_count": i})))
        self.ctx.r.pipeline(cmds)

    def cli_csv(self, *args):
        rc, out, err = self.ctx.run_aethertop(["list"] + list(args) + ["--csv"], env=fixture.dev_env(),
                                              binary=True)
        self.assertEqual(rc, 0, err)
        return out

    def export(self, c, path):
        c.keys("e")
        c.wait("Export to: ./aethertop-export-")
        c.keys("C-u")
        c.type(path)
        c.keys("Enter")

    def test_export_csv_and_json(self):
        self.put_many(40)                           # more rows than a page
        c = self.start(height=24)
        total = LIVE_ROWS + 40
        c.wait("of %d" % total)
        self.assertIn("page 1/", c.position())
        path = os.path.join(self.tmp, "all.csv")
        self.export(c, path)
        c.wait("Exported %d rows to %s (CSV)." % (total, path))
        with open(path, "rb") as f:
            data = f.read()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        self.assertEqual(len(rows), total + 1)
        self.assertTrue(data.endswith(b"\r\n"))
        # the same fields, in the same order, as `list --csv` (and the JSON list items)
        self.assertEqual(rows[0], self.cli_csv().decode().split("\r\n")[0].split(","))
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o600")
        # search + sort applied: alice's rows, by requests ascending
        c.keys("/")
        c.type("alice")
        c.wait("(user)")
        c.keys("Enter")
        path2 = os.path.join(self.tmp, "alice.csv")
        self.export(c, path2)
        c.wait("Exported %d rows to %s (CSV)." % (ALICE_ROWS, path2))
        with open(path2, "rb") as f:
            self.assertEqual(f.read(), self.cli_csv("alice"))   # byte for byte, same order
        c.command("sort requests asc")
        c.wait("Sorted by requests")
        path3 = os.path.join(self.tmp, "alice.json")
        self.export(c, path3)
        c.wait("Exported %d rows to %s (JSON)." % (ALICE_ROWS, path3))
        with open(path3, encoding="utf-8") as f:
            items = json.load(f)
        counts = [i["request_count"] for i in items]
        self.assertEqual(counts, sorted(counts))
        rc, out, err = self.ctx.run_aethertop(["list", "alice", "--json"], env=fixture.dev_env())
        ref = {(i["affinity_key"], i["api_format"], i["global_model_id"]): i for i in json.loads(out)["data"]["items"]}
        for it in items:
            want = ref[(it["affinity_key"], it["api_format"], it["global_model_id"])]
            self.assertEqual(list(it.keys()), list(want.keys()))
            self.assertEqual(it, want)
        # never over an existing file
        self.export(c, path3)
        c.wait("already exists")
        # :export PATH does the same
        c.command("export " + os.path.join(self.tmp, "cmd.csv"))
        c.wait("Exported %d rows" % ALICE_ROWS)
        c.quit(self)

    def test_export_cancel_and_bad_place(self):
        c = self.start()
        c.keys("e")
        c.wait("Export to:")
        c.keys("Escape")
        c.wait("Export cancelled.")
        self.export(c, "/nonexistent-dir/x.csv")
        c.wait("Export failed: cannot create /nonexistent-dir/x.csv")
        c.quit(self)

    # ------------------------------------------------------------ columns

    def test_config_file_column_set(self):
        path = os.path.join(self.tmp, "columns.conf")
        with open(path, "w") as f:
            f.write("[console]\ncolumns = ttl, user, hit, model\ntheme = light\nrefresh = 3\n")
        c = self.start("--config", path)
        s = c.wait("rows 1")
        header = [l for l in s.split("\n") if l.split()[:1] == ["TTL▼"]][0]
        self.assertEqual(header.split(), ["TTL▼", "USER", "HIT", "1h", "MODEL"])
        self.assertIn("every 3 s", c.lines()[0])
        c.keys("5")
        s = c.wait(re.compile(r"Config file +%s" % re.escape(path)))
        self.assertRegex(s, r"Theme +light \(256 colours\)")
        c.quit(self)
        # --theme and --delay win over the file
        c = self.start("--config", path, "--theme", "high-contrast", "--delay", "5")
        self.assertIn("every 5 s", c.lines()[0])
        c.keys("5")
        c.wait(re.compile(r"Theme +high-contrast"))
        c.quit(self)

    def test_chinese_console(self):
        c = self.start(env={"LANGUAGE": "zh_CN"}, wait=False)
        s = c.wait("1 亲和性")
        self.assertIn("7 TTL", c.lines()[1])
        self.assertTrue(c.lines()[-1].startswith("F1帮助"), c.lines()[-1])
        s = c.wait(re.compile(r"第 1–\d+ 行"))
        self.assertIn("命中1h", s)
        c.keys("6")
        c.wait("最近 5 分钟")
        c.quit(self)

    def test_config_file_bad_column(self):
        path = os.path.join(self.tmp, "bad-columns.conf")
        with open(path, "w") as f:
            f.write("[console]\n\ncolumns = ttl, usr\n")
        rc, out, err = self.ctx.run_aethertop(["--config", path], env=fixture.dev_env())
        self.assertEqual(rc, 2)
        self.assertEqual(err.strip(), "aethertop: %s:3: columns: unknown column \"usr\" (columns: user, key_name, "
                                      "user_key, provider, endpoint, prov_key, provider_key, model, format, reqs, "
                                      "hit, ttl, created)" % path)


if __name__ == "__main__":
    harness.main()
