"""Integration tests of the issue-6 command-line features on the known
fixture (fixture.py) plus usage_fixture's usage rows:

- `list --csv`: RFC 4180 (parsed back with Python's csv module), the list
  item fields in the reference's order with the JSON's values, every row by
  default or the page --limit/--offset ask for, data kept byte for byte in a
  pipe but control characters made visible on a terminal (a pty), and its
  usage errors;
- `metrics`: the reference's output unchanged plus the derived figures
  under new names (created per second, prompt-cache figures of the usage
  table, usage availability), valid for node_exporter's textfile collector,
  and without PostgreSQL;
- `hits` / `ttl-advice` against figures computed by hand;
- help per command, --version, and messages in Simplified Chinese chosen by
  the locale while the JSON bodies stay the reference's.
"""

import csv
import io
import json
import os
import pty
import re
import subprocess
import tempfile
import time

import fixture
import harness
import usage_fixture
from fixture import AFFINITIES, K_MAIN, U_ALICE, U_CAROL

PROM_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def csv_text(value):
    """A JSON value as aethertop writes it in CSV."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return "%d" % value if value == int(value) and abs(value) < 1e15 else repr(value)
    return str(value)


class CliInsight(harness.IntegrationTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load(cls.ctx)

    def setUp(self):
        self.fx.load_redis(self.ctx)
        # a model name RFC 4180 must quote, in a readable affinity
        now = time.time()
        self.ctx.redis("SETEX", 'cache_affinity:%s:OPENAI:m,"q"x' % K_MAIN, 4000, json.dumps({
            "provider_id": fixture.P_OAI, "endpoint_id": fixture.E_OAI_OPENAI, "key_id": fixture.PK_OAI1,
            "api_format": "OPENAI", "model_name": 'm,"q"x', "created_at": now, "expire_at": now + 3900,
            "request_count": 3}))
        self.ctx.psql(usage_fixture.sql())

    def csv_out(self, args, env=None):
        """CSV output as text, CRLF kept (text mode would translate it)."""
        _, raw, _ = self.run_at(list(args) + ["--csv"], env=env, binary=True)
        return raw.decode("utf-8")

    def run_at(self, args, env=None, expect_rc=0, binary=False):
        rc, out, err = self.ctx.run_aethertop(args, env=fixture.dev_env(env), binary=binary)
        e = err.decode("utf-8", "replace") if binary else err
        self.assertNoSanitizerReport(e, args)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "exit status of aethertop %s; stderr: %s" % (args, e))
        return rc, out, err

    # ------------------------------------------------------------ list --csv

    def test_csv_is_the_list_items(self):
        text = self.csv_out(["list"])
        _, js, _ = self.run_at(["list", "--json", "--limit", "1000"])
        items = json.loads(js)["data"]["items"]
        self.assertTrue(text.endswith("\r\n"))
        self.assertNotIn("\n", text.replace("\r\n", ""), "bare LF outside a quoted field")
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        self.assertEqual(rows[0], list(items[0].keys()), "header = the list item fields, in order")
        self.assertEqual(len(rows) - 1, len(items), "every row (more than the default page of 100 is allowed)")
        for row, item in zip(rows[1:], items):
            self.assertEqual(row, [csv_text(v) for v in item.values()])
        # the quoted model name survives the round trip
        self.assertIn('"m,""q""x"', text)
        self.assertIn('m,"q"x', [r[rows[0].index("global_model_id")] for r in rows[1:]])
        # keys only masked: the fixture's plaintexts never appear
        for s in self.fx.secret_strings():
            self.assertNotIn(s, text)

    def test_csv_page_and_keyword(self):
        lines = self.csv_out(["list"]).split("\r\n")
        self.assertGreater(len(lines), 8)
        page = self.csv_out(["list", "--limit", "3", "--offset", "2"])
        self.assertEqual(page.split("\r\n"), [lines[0]] + lines[3:6] + [""])
        off = self.csv_out(["list", "--offset", "4"])
        self.assertEqual(off.split("\r\n"), [lines[0]] + lines[5:])
        alice = self.csv_out(["list", U_ALICE])
        _, js, _ = self.run_at(["list", U_ALICE, "--json"])
        self.assertEqual(len(alice.split("\r\n")) - 2, json.loads(js)["data"]["meta"]["total"])
        # nothing matches: the header alone
        none = self.csv_out(["list", "no-such-thing-at-all"])
        self.assertEqual(none, lines[0] + "\r\n")

    def test_csv_control_characters(self):
        # to a pipe: the data as it is (fixture A4's provider key masks to "sk-<ESC>[2J-...")
        _, raw, _ = self.run_at(["list", "--csv"], binary=True)
        self.assertIn(b"sk-\x1b[2J-", raw)
        # to a terminal: visible symbols, never the escape itself
        master, slave = pty.openpty()
        env = self.ctx.env(fixture.dev_env())
        proc = subprocess.Popen([harness.AETHERTOP, "list", "--csv"], stdout=slave, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        out = harness.read_pty(master, 30, exited=lambda: proc.poll() is not None)
        proc.wait(timeout=30)
        os.close(master)
        err = proc.stderr.read()
        proc.stderr.close()
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn(b"\x1b", out)
        self.assertIn("sk-\u241b[2J-".encode(), out)

    def test_csv_usage_errors(self):
        for args, msg in ((["list", "--csv", "--json"], "--csv and --json exclude each other"),
                          (["stats", "--csv"], "--csv applies to list only"),
                          (["--csv"], "need a command")):
            _, _, err = self.run_at(args, expect_rc=2)
            self.assertIn(msg, err)

    # ------------------------------------------------------------ metrics

    def parse_prom(self, text):
        """Check the text exposition format node_exporter's textfile collector
        reads; return {sample name with labels: value}."""
        self.assertTrue(text.endswith("\n"))
        families, samples, typed = [], {}, {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name = line.split(" ")[2]
                self.assertNotIn(name, families, "HELP twice for " + name)
                families.append(name)
            elif line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertEqual(kind, "gauge")
                typed[name] = kind
            elif line.startswith("#") or not line:
                continue
            else:
                m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\S+)$', line)
                self.assertIsNotNone(m, "not a sample line: %r" % line)
                self.assertNotIn(line.rsplit(" ", 1)[0], samples, "sample twice: " + line)
                float(m.group(4))
                samples[line.rsplit(" ", 1)[0]] = float(m.group(4))
        for name in families:
            self.assertTrue(PROM_NAME.match(name))
            self.assertIn(name, typed)
        return samples

    def test_metrics_derived_figures(self):
        t0 = time.time()
        _, out, err = self.run_at(["metrics"])
        elapsed = time.time() - t0
        m = self.parse_prom(out)
        # the reference's names are still there
        self.assertIn("cache_affinity_total", m)
        self.assertIn('cache_scheduler_info{scheduler="cache_aware"}', m)
        # TTL buckets (already aethertop's) and the new figures
        self.assertIn('aethertop_affinity_ttl_remaining{bucket="lt_30s"}', m)
        created = [a for a in AFFINITIES if a[7] > -60]           # created_at within the last minute
        rate = m["aethertop_affinities_created_per_second"]
        self.assertLessEqual(rate, (len(created) + 1) / 60.0 + 1e-9)
        if elapsed < 5:
            self.assertGreaterEqual(rate, (len(created) - 2) / 60.0 - 1e-9)
        self.assertEqual(m["aethertop_usage_available"], 1)
        r5, k5, inp, cr, sav = usage_fixture.window(5)
        self.assertEqual(m['aethertop_prompt_cache_requests{window="5m"}'], r5)
        self.assertEqual(m['aethertop_prompt_cache_cached_requests{window="5m"}'], k5)
        self.assertAlmostEqual(m['aethertop_prompt_cache_token_hit_rate{window="5m"}'], cr / (inp + cr), places=9)
        self.assertAlmostEqual(m['aethertop_prompt_cache_estimated_savings_usd{window="5m"}'], sav, places=9)

    def test_metrics_without_postgres(self):
        _, out, err = self.run_at(["metrics"], env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
        m = self.parse_prom(out)
        self.assertEqual(m["aethertop_usage_available"], 0)
        self.assertFalse([k for k in m if k.startswith("aethertop_prompt_cache")])
        self.assertIn("cache_affinity_total", m)
        self.assertIn("warning:", err)

    def test_metrics_no_tokens_no_rate(self):
        self.ctx.psql("DELETE FROM usage WHERE request_id LIKE 'req-issue6-%';")
        _, out, _ = self.run_at(["metrics"])
        m = self.parse_prom(out)
        self.assertEqual(m['aethertop_prompt_cache_requests{window="5m"}'], 0)
        self.assertNotIn('aethertop_prompt_cache_token_hit_rate{window="5m"}', m)

    # ------------------------------------------------------------ hits / ttl-advice

    def test_hits_and_ttl_advice(self):
        _, out, _ = self.run_at(["hits", "--json"])
        doc = json.loads(out)
        w5, w60 = doc["windows"]
        for w, minutes in ((w5, 5), (w60, 60)):
            req, cached, inp, cr, sav = usage_fixture.window(minutes)
            self.assertEqual(w["window_seconds"], minutes * 60)
            self.assertEqual((w["total"]["requests"], w["total"]["cached_requests"]), (req, cached))
            self.assertAlmostEqual(w["total"]["token_hit_rate"], cr / (inp + cr))
            self.assertAlmostEqual(w["total"]["estimated_savings_usd"], sav)
        users = {u["user_id"]: u for u in w60["by_user"]}
        self.assertEqual(users[fixture.U_BOB]["token_hit_rate"], 0)
        _, out, _ = self.run_at(["hits", "--window", "24h"])
        self.assertIn("Prompt cache, last 1d:", out)
        _, out, _ = self.run_at(["ttl-advice", "--json"])
        data = json.loads(out)["data"]
        self.assertEqual(data["summary"], {"5": 1, "15": 0, "30": 1, "60": 0})
        rec = {u["user_id"]: u["recommended_ttl_minutes"] for u in data["users"]}
        self.assertEqual(rec, {U_ALICE: 5, U_CAROL: 30})

    def test_ttl_advice_counts_completed_requests_only(self):
        """As the gateway's analysis: failed or pending requests are not
        requests a cache could serve; bob's 2 completed + 3 failed requests
        do not make him a user with intervals to judge."""
        self.ctx.psql("INSERT INTO usage (user_id, request_id, provider, model, provider_id, input_tokens, "
                      "cache_read_input_tokens, created_at, status) VALUES "
                      + ", ".join("(%s, 'req-issue6-failed-%d', 'openai-proxy', 'gpt-4o', NULL, 1, 0, "
                                  "now() - make_interval(secs => %d), '%s')"
                                  % (harness.sql_literal(fixture.U_BOB), i, 200 + 30 * i, st)
                                  for i, st in enumerate(("failed", "failed", "pending"))))
        self.addCleanup(self.ctx.psql, "DELETE FROM usage WHERE request_id LIKE 'req-issue6-failed-%'")
        _, out, _ = self.run_at(["ttl-advice", "--json"])
        data = json.loads(out)["data"]
        rec = {u["user_id"]: u["recommended_ttl_minutes"] for u in data["users"]}
        self.assertEqual(rec, {U_ALICE: 5, U_CAROL: 30})

    def test_hits_deleted_provider_keeps_its_name(self):
        """Usage rows of a deleted provider (provider_id set NULL) are one
        group labelled with the name the rows kept; live providers get their
        display name from `providers`."""
        self.ctx.psql("INSERT INTO usage (user_id, request_id, provider, model, provider_id, input_tokens, "
                      "cache_read_input_tokens, created_at, status) VALUES "
                      "(%(u)s, 'req-issue6-retired', 'retired-provider', 'old-model', NULL, 10, 30, "
                      " now() - interval '1 minute', 'completed'), "
                      "(%(u)s, 'req-issue6-retired-2a', 'retired-two', 'old-model', NULL, 10, 0, "
                      " now() - interval '1 minute', 'completed'), "
                      "(%(u)s, 'req-issue6-retired-2b', 'retired-two', 'old-model', NULL, 10, 0, "
                      " now() - interval '2 minutes', 'completed')"
                      % {"u": harness.sql_literal(U_ALICE)})
        self.addCleanup(self.ctx.psql, "DELETE FROM usage WHERE request_id LIKE 'req-issue6-retired%'")
        _, out, _ = self.run_at(["hits", "--window", "5m", "--json"])
        by_provider = json.loads(out)["windows"][0]["by_provider"]
        # each deleted provider its own row: the one without cache reads must show
        deleted = {r["provider_name"]: (r["requests"], r["cache_read_tokens"])
                   for r in by_provider if r["provider_id"] == ""}
        self.assertEqual(deleted, {"retired-provider": (1, 30), "retired-two": (2, 0)})
        rows = {r["provider_id"]: r for r in by_provider}
        names = {r["id"]: r["display_name"] or r["name"]
                 for r in self.ctx.query("SELECT id, name, display_name FROM providers")}
        for pid, row in rows.items():
            if pid:
                self.assertEqual(row["provider_name"], names[pid])

    # ------------------------------------------------------------ help and version

    def test_help_per_command(self):
        _, general, _ = self.run_at(["--help"])
        for cmd in ("stats", "config", "metrics", "list", "affinity", "mappings", "hits", "ttl-advice", "clear",
                    "help"):
            self.assertRegex(general, r"(?m)^  %s +\S" % re.escape(cmd))
            _, a, _ = self.run_at(["help", cmd])
            _, b, _ = self.run_at([cmd, "--help"])
            self.assertEqual(a, b, cmd)
            self.assertTrue(a.startswith("usage: aethertop [OPTIONS] %s" % cmd), a)
        _, out, _ = self.run_at(["help", "list"])
        self.assertIn("--csv", out)
        _, out, _ = self.run_at(["help", "clear"])
        self.assertIn("clear provider-mapping PROVIDER_ID GLOBAL_MODEL_ID", out)
        _, out, err = self.run_at(["help", "frobnicate"], expect_rc=2)
        self.assertIn('no command "frobnicate"', err)
        # help needs no server and no valid configuration
        _, out, _ = self.run_at(["list", "--help"], env={"REDIS_URL": "bogus://", "XDG_CONFIG_HOME": "/nonexistent"})
        self.assertIn("KEYWORD", out)

    def test_version(self):
        _, out, _ = self.run_at(["--version"])
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^aethertop \d+\.\d+\.\d+$")
        self.assertRegex(out, r"(?m)^build: \S+, \S+")
        self.assertRegex(out, r"(?m)^flags: .*-Wall")
        self.assertRegex(out, r"(?m)^libraries: hiredis \d+\.\d+\.\d+, libpq \d+\.\d+, cJSON [\d.]+, OpenSSL .*, "
                              r"ncurses [\d.]+, inih \d+$")
        with open(os.path.join(harness.BUILD_DIR, "CMakeCache.txt")) as f:
            sanitized = "AETHERTOP_SANITIZE:BOOL=ON" in f.read()
        self.assertEqual("sanitizers: address, undefined" in out, sanitized)
        if sanitized:
            self.assertIn("-fsanitize=address,undefined", out)

    # ------------------------------------------------------------ translations

    def test_chinese_messages(self):
        zh = {"LANGUAGE": "zh_CN"}          # with the harness's LC_ALL=C.UTF-8
        _, out, _ = self.run_at(["--help"], env=zh)
        self.assertIn("用法：aethertop", out)
        self.assertIn("命令：", out)
        _, out, _ = self.run_at(["help", "ttl-advice"], env=zh)
        self.assertIn("p90 <= 5 分钟", out)
        _, _, err = self.run_at(["list", "--limit", "0"], env=zh, expect_rc=2)
        self.assertEqual(err.strip(), "aethertop：--limit 必须在 1 到 1000 之间，实际为 0")
        _, out, _ = self.run_at(["stats"], env=zh)
        self.assertIn("活跃亲和性", out)
        # LANG=zh_CN.UTF-8 chooses Chinese too (here the locale is not even installed)
        _, out, _ = self.run_at(["--help"], env={"LC_ALL": None, "LANGUAGE": None, "LANG": "zh_CN.UTF-8"})
        self.assertIn("用法：aethertop", out)
        # English by default, and in the C locale whatever LANGUAGE says
        for env in ({}, {"LC_ALL": "C", "LANGUAGE": "zh_CN"}, {"LC_ALL": None, "LANG": None, "LANGUAGE": None}):
            _, out, _ = self.run_at(["--help"], env=env)
            self.assertTrue(out.startswith("usage: aethertop"), env)
        # JSON bodies never change with the language
        for args in (["config", "--json"], ["list", "--json"], ["hits", "--json"], ["ttl-advice", "--json"]):
            _, en, _ = self.run_at(args)
            _, cn, _ = self.run_at(args, env=zh)
            strip = lambda t: re.sub(r'"(query_ms|taken_at)":\s*[0-9.e+-]+', "", t)
            json.loads(en)
            self.assertEqual(strip(en), strip(cn), args)
        _, out, _ = self.run_at(["affinity", "nobody-at-all", "--json"], env=zh, expect_rc=1)
        self.assertEqual(json.loads(out), {"detail": "无法识别的用户标识符: nobody-at-all。支持用户名、邮箱、User ID或API Key ID"})
        # and --version says where the catalogues are (the build tree here)
        _, out, _ = self.run_at(["--version"])
        self.assertRegex(out, r"(?m)^translations: .*locale")

    def test_catalogues_cover_every_message(self):
        """po/POTFILES.in names every source that marks messages,
        po/aethertop.pot holds exactly their messages (`make pot` was run),
        and each catalogue of po/LINGUAS translates every one of them: none
        missing, none fuzzy. A message added without its translation would
        otherwise quietly show in English on a Chinese screen."""
        harness.need_tools("xgettext", "msgcmp", "msgmerge", "msgfmt")
        src = harness.SOURCE_DIR
        po = os.path.join(src, "po")
        with open(os.path.join(po, "POTFILES.in"), encoding="utf-8") as f:
            listed = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        marking = set()
        for d in ("src", os.path.join("src", "console")):
            for name in os.listdir(os.path.join(src, d)):
                if name.endswith(".c"):
                    with open(os.path.join(src, d, name), encoding="utf-8") as f:
                        if re.search(r"\b(N?_|ngettext)\(\"", f.read()):
                            marking.add(os.path.join(d, name))
        self.assertEqual(sorted(marking - listed), [], "sources with messages missing from po/POTFILES.in")
        with tempfile.TemporaryDirectory(prefix="at-pot-") as tmp:
            fresh = os.path.join(tmp, "fresh.pot")
            rc, _, err = harness.run(["xgettext", "--from-code=UTF-8", "--language=C", "--keyword=_", "--keyword=N_",
                                      "--add-comments=TRANSLATORS", "--files-from=po/POTFILES.in", "-o", fresh],
                                     cwd=src)
            self.assertEqual(rc, 0, err)
            pot = os.path.join(po, "aethertop.pot")
            for a, b in ((pot, fresh), (fresh, pot)):
                rc, _, err = harness.run(["msgcmp", "--use-untranslated", a, b])
                self.assertEqual(rc, 0, "po/aethertop.pot is not the sources' messages (run `make pot`):\n%s"
                                 % err[-3000:])
            with open(os.path.join(po, "LINGUAS"), encoding="utf-8") as f:
                langs = [w for l in f if not l.startswith("#") for w in l.split()]
            self.assertTrue(langs)
            for lang in langs:
                merged = os.path.join(tmp, lang + ".po")
                rc, _, err = harness.run(["msgmerge", "--quiet", "-o", merged, os.path.join(po, lang + ".po"), fresh])
                self.assertEqual(rc, 0, err)
                rc, _, err = harness.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, merged])
                self.assertEqual(rc, 0, err)
                self.assertNotIn("fuzzy", err, "po/%s.po: %s" % (lang, err.strip()))
                self.assertNotIn("untranslated", err, "po/%s.po: %s" % (lang, err.strip()))


if __name__ == "__main__":
    harness.main()
