"""Integration tests of aethertop's read commands on a known fixture
(fixture.py): stats, config, metrics, list (keyword rules, pagination, sort),
affinity USER, mappings. Every JSON answer is compared field by field (and in
key order) with what the reference endpoints would return for the fixture,
computed by fixture.Fixture from the fixture data — never copied from
aethertop. Bad records must be skipped and reported, secrets never shown.
"""

import json
import math
import re
import time

import fixture
import harness
from fixture import (K_BOB, K_CI, K_GHOST, K_MAIN, K_MALLORY, K_ZHANG, P_ANT, P_AZ, P_GHOST,
                     P_OAI, PK_OAI_CL, U_ALICE, U_BOB, U_CAROL, U_MALLORY, U_ZHANG)

SKIP_LINE = re.compile(r"^aethertop: (\d+) unreadable affinit(?:y|ies) skipped\b", re.M)

REFERENCE_CONFIG = {
    "status": "ok",
    "data": {
        "cache_ttl_seconds": 300,
        "cache_reservation_ratio": 0.1,
        "dynamic_reservation": {
            "enabled": True,
            "config": {"probe_phase_requests": 100, "probe_reservation": 0.1,
                       "stable_min_reservation": 0.1, "stable_max_reservation": 0.35,
                       "low_load_threshold": 0.5, "high_load_threshold": 0.8},
            "description": {
                "probe_phase_requests": "探测阶段请求数阈值",
                "probe_reservation": "探测阶段预留比例",
                "stable_min_reservation": "稳定阶段最小预留比例",
                "stable_max_reservation": "稳定阶段最大预留比例",
                "low_load_threshold": "低负载阈值(低于此值使用最小预留)",
                "high_load_threshold": "高负载阈值(高于此值根据置信度使用较高预留)",
            },
        },
        "description": {
            "cache_ttl": "缓存亲和性有效期(秒)",
            "cache_reservation_ratio": "静态预留比例(已被动态预留替代)",
            "dynamic_reservation": "动态预留机制配置",
        },
    },
}

# The reference's Prometheus metric names, in its order.
REFERENCE_METRICS = [
    "cache_scheduler_total_batches", "cache_scheduler_last_batch_size",
    "cache_scheduler_total_candidates", "cache_scheduler_last_candidate_count",
    "cache_scheduler_cache_hits", "cache_scheduler_cache_misses",
    "cache_scheduler_cache_hit_rate", "cache_scheduler_concurrency_denied",
    "cache_scheduler_avg_candidates_per_batch", "cache_affinity_total", "cache_affinity_hits",
    "cache_affinity_misses", "cache_affinity_hit_rate", "cache_affinity_invalidations",
    "cache_affinity_provider_switches", "cache_affinity_key_switches",
]

AFFINITY_404 = "无法识别的用户标识符: %s。支持用户名、邮箱、User ID或API Key ID"


def key_order(testcase, actual, expected, where):
    """Same keys in the same order (the JSON must be the reference's document)."""
    testcase.assertEqual(list(actual.keys()), list(expected.keys()), "key order of " + where)


def settle_ttls(testcase, actual, expected, slack):
    """Redis TTLs count down while the tests run: an actual "ttl" within
    `slack` seconds below the expected one is replaced by the expected value."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for k, v in expected.items():
            if k == "ttl" and isinstance(v, int) and isinstance(actual.get(k), int):
                testcase.assertTrue(v - slack <= actual[k] <= v,
                                    "ttl %s not within %.0fs of %s" % (actual[k], slack, v))
                actual[k] = v
            elif k in actual:
                settle_ttls(testcase, actual[k], v, slack)
    elif isinstance(actual, list) and isinstance(expected, list):
        for a, e in zip(actual, expected):
            settle_ttls(testcase, a, e, slack)


class ReadCommands(harness.IntegrationTest):
    REDIS_DB = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load(cls.ctx)
        cls.secrets = cls.fx.secret_strings()

    def setUp(self):
        # expire_at offsets are relative to the load time; reload so that a slow
        # (sanitizer) build never sees a short-lived fixture affinity expire
        self.fx.load_redis(self.ctx)

    # ------------------------------------------------------------ helpers

    def run_at(self, args, env=None, expect_rc=0):
        rc, out, err = self.ctx.run_aethertop(args, env=fixture.dev_env(env))
        self.assertNoSanitizerReport(err, args)
        for s in self.secrets:
            self.assertNotIn(s, out, "secret in stdout of %s" % args)
            self.assertNotIn(s, err, "secret in stderr of %s" % args)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "exit status of aethertop %s; stderr: %s" % (args, err))
        return rc, out, err

    def run_json(self, args, env=None, expect_rc=0):
        rc, out, err = self.run_at(list(args) + ["--json"], env=env, expect_rc=expect_rc)
        try:
            doc = json.loads(out)
        except ValueError as exc:
            self.fail("aethertop %s --json printed no JSON (%s): %r" % (args, exc, out[:500]))
        return doc, err

    def assert_skip_report(self, err, where):
        m = SKIP_LINE.search(err)
        self.assertIsNotNone(m, "%s: no 'N unreadable affinities skipped' on stderr: %r" % (where, err))
        self.assertEqual(int(m.group(1)), len(fixture.HOSTILE), where)

    def assert_list(self, keyword, limit=None, offset=None, pg=True):
        args = ["list"] + ([keyword] if keyword is not None else [])
        if limit is not None:
            args += ["--limit", str(limit)]
        if offset is not None:
            args += ["--offset", str(offset)]
        doc, err = self.run_json(args)
        items, matched = self.fx.expected_list(keyword, pg=pg)
        lim = 100 if limit is None else limit
        off = 0 if offset is None else offset
        page = items[off:off + lim]
        self.assertEqual(doc.get("status"), "ok")
        key_order(self, doc, {"status": 0, "data": 0}, "list answer")
        data = doc["data"]
        key_order(self, data, {"items": 0, "meta": 0, "matched_user_id": 0}, "list data")
        self.assertEqual(data["meta"], {"total": len(items), "limit": lim, "offset": off,
                                        "count": len(page)}, "meta for %r" % keyword)
        key_order(self, data["meta"], {"total": 0, "limit": 0, "offset": 0, "count": 0}, "meta")
        self.assertEqual(data["matched_user_id"], matched, "matched_user_id for %r" % keyword)
        got = data["items"]
        self.assertEqual([i.get("affinity_key") + "|" + str(i.get("expire_at")) for i in got],
                         [i["affinity_key"] + "|" + str(i["expire_at"]) for i in page],
                         "rows (and order) for keyword %r" % keyword)
        for g, e in zip(got, page):
            key_order(self, g, e, "list item")
            for k in e:
                self.assertEqual(g[k], e[k], "field %s of %s (keyword %r)" % (k, e["affinity_key"], keyword))
                if e[k] is not None and not isinstance(e[k], float):
                    self.assertIs(type(g[k]), type(e[k]), "JSON type of %s" % k)
        self.assert_skip_report(err, "list %r" % keyword)
        return data

    # ------------------------------------------------------------ config

    def test_config_json_is_the_reference_document(self):
        doc, _ = self.run_json(["config"])
        self.assertEqual(doc, REFERENCE_CONFIG)
        key_order(self, doc["data"], REFERENCE_CONFIG["data"], "config data")
        key_order(self, doc["data"]["dynamic_reservation"]["config"],
                  REFERENCE_CONFIG["data"]["dynamic_reservation"]["config"], "reservation config")
        self.assertIsInstance(doc["data"]["cache_ttl_seconds"], int)
        self.assertIsInstance(doc["data"]["dynamic_reservation"]["config"]["probe_phase_requests"], int)

    def test_config_human(self):
        _, out, _ = self.run_at(["config"])
        self.assertIn("300", out)
        for name in REFERENCE_CONFIG["data"]["dynamic_reservation"]["config"]:
            self.assertIn(name, out)

    # ------------------------------------------------------------- stats

    def live(self, now):
        return [a for a in self.fx.readable() if a["expire_at"] > now]

    def test_stats_json(self):
        t0 = time.time()
        doc, err = self.run_json(["stats"])
        t1 = time.time()
        self.assertEqual(doc["status"], "ok")
        d = doc["data"]
        readable = self.fx.readable()
        live = self.live(t0)
        self.assertEqual(live, self.live(t1), "fixture offsets straddle the run (test too slow?)")
        self.assertEqual(d["active_affinities"], len(live))
        self.assertEqual(d["active_affinities"], len(readable) - 1)  # A8 is expired-but-present
        self.assertEqual(d["total_affinity_keys"], len(readable))
        self.assertEqual(d["expired_present"], 1)
        self.assertEqual(d["unreadable_skipped"], len(fixture.HOSTILE))
        self.assertEqual(d["total_requests"], sum(a["request_count"] for a in live))
        reasons = {}
        for reason, _k, _v in fixture.HOSTILE:
            reasons[reason] = reasons.get(reason, 0) + 1
        self.assertEqual(d["unreadable_by_reason"], reasons)

        def groups(field):
            out = {}
            for a in live:
                c = out.setdefault(a[field], [0, 0])
                c[0] += 1
                c[1] += a["request_count"]
            return out

        fmt = groups("api_format")
        self.assertEqual({x["api_format"]: [x["count"], x["requests"]] for x in d["by_api_format"]}, fmt)
        counts = [x["count"] for x in d["by_api_format"]]
        self.assertEqual(counts, sorted(counts, reverse=True), "by_api_format sorted by count")

        prov = groups("provider_id")
        self.assertEqual({x["provider_id"]: [x["count"], x["requests"]] for x in d["by_provider"]}, prov)
        for x in d["by_provider"]:
            p = self.fx.providers.get(x["provider_id"])
            if p:
                # a provider with an empty display_name is still known by its name
                self.assertEqual(x["provider_name"], p["display_name"] or p["name"],
                                 "provider_name of %s" % x["provider_id"])

        model = groups("model_name")
        self.assertEqual({x["model_id"]: [x["count"], x["requests"]] for x in d["by_model"]}, model)
        for x in d["by_model"]:
            g = self.fx.global_models.get(x["model_id"])
            self.assertEqual(x["model_name"], g["name"] if g else x["model_id"])

        buckets = {"lt_30s": 0, "lt_1m": 0, "lt_2m": 0, "lt_5m": 0, "gte_5m": 0}
        for a in live:
            left = a["expire_at"] - t0
            b = "lt_30s" if left < 30 else "lt_1m" if left < 60 else "lt_2m" if left < 120 \
                else "lt_5m" if left < 300 else "gte_5m"
            buckets[b] += 1
        self.assertEqual(d["ttl_distribution"], buckets)
        self.assertEqual(d["redis"]["dbsize"], len(self.fx.all_keys()))
        self.assertEqual(d["redis"]["role"], "master")
        for f in ("used_memory", "connected_clients", "keyspace_hits", "keyspace_misses",
                  "evicted_keys", "expired_keys"):
            self.assertIsInstance(d["redis"][f], int, f)
        self.assertTrue(d["postgres"]["available"])
        self.assert_skip_report(err, "stats")

    def test_stats_human(self):
        _, out, err = self.run_at(["stats"])
        self.assertIn(str(len(self.fx.readable()) - 1), out)
        self.assertIn("张伟测试", out)
        self.assertIn("Anthropic Main", out)
        self.assert_skip_report(err, "stats (human)")

    # ----------------------------------------------------------- metrics

    def test_metrics_prometheus_text(self):
        t0 = time.time()
        _, out, err = self.run_at(["metrics"])
        lines = out.splitlines()
        self.assertTrue(out.endswith("\n"))
        names = []
        for i, line in enumerate(lines):
            m = re.match(r"^# TYPE (\S+) gauge$", line)
            if m:
                names.append(m.group(1))
                self.assertEqual(lines[i - 1].split(" ")[:3], ["#", "HELP", m.group(1)])
                self.assertRegex(lines[i + 1],
                                 r"^%s(\{[^}]*\})? -?\d+(\.\d+)?(e[-+]?\d+)?$" % re.escape(m.group(1)))
        ref = [n for n in names if n in REFERENCE_METRICS]
        self.assertEqual(ref, REFERENCE_METRICS, "reference metric names, in the reference's order")
        values = {}
        for line in lines:
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = value
        # the reference prints Python floats: "13.0"
        self.assertEqual(values["cache_affinity_total"], repr(float(len(self.live(t0)))))
        self.assertIn('cache_scheduler_info{scheduler="cache_aware"}', values)
        self.assertEqual(values['cache_scheduler_info{scheduler="cache_aware"}'], "1")
        for name in REFERENCE_METRICS:
            self.assertTrue(math.isfinite(float(values[name])), name)

    # -------------------------------------------------------------- list

    def test_list_all(self):
        data = self.assert_list(None)
        self.assertEqual(data["meta"]["total"], len(fixture.AFFINITIES))

    def test_list_sorted_by_expire_at_descending(self):
        doc, _ = self.run_json(["list"])
        exp = [i["expire_at"] for i in doc["data"]["items"]]
        self.assertEqual(exp, sorted(exp, reverse=True))
        self.assertEqual(len(set(exp)), len(exp))
        # the expired-but-present affinity is listed (last: its expire_at is the smallest)
        self.assertEqual(doc["data"]["items"][-1]["affinity_key"], fixture.K_BOB_EMPTY)
        self.assertLess(doc["data"]["items"][-1]["expire_at"], time.time())

    def test_list_exact_api_key_id(self):
        data = self.assert_list(K_MAIN)
        self.assertEqual(data["matched_user_id"], U_ALICE)
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_MAIN})
        self.assertEqual(data["meta"]["total"], 3)

    def test_list_username(self):
        data = self.assert_list("alice")
        self.assertEqual(data["matched_user_id"], U_ALICE)
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_MAIN, K_CI})

    def test_list_cjk_username(self):
        data = self.assert_list("张伟测试")
        self.assertEqual(data["matched_user_id"], U_ZHANG)
        self.assertEqual(data["meta"]["total"], 2)

    def test_list_email(self):
        data = self.assert_list("zhang.wei@example.cn")
        self.assertEqual(data["matched_user_id"], U_ZHANG)

    def test_list_user_id(self):
        data = self.assert_list(U_BOB)
        self.assertEqual(data["matched_user_id"], U_BOB)
        self.assertEqual(data["meta"]["total"], 4)

    def test_list_identifier_trimmed(self):
        data = self.assert_list("  alice\t")
        self.assertEqual(data["matched_user_id"], U_ALICE)

    def test_list_username_before_email(self):
        # "bob@example.org" is bob's email and mallory's username: username wins
        data = self.assert_list("bob@example.org")
        self.assertEqual(data["matched_user_id"], U_MALLORY)
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_MALLORY})

    def test_list_user_without_affinities(self):
        data = self.assert_list("carol")
        self.assertEqual(data["matched_user_id"], U_CAROL)
        self.assertEqual(data["items"], [])

    def test_list_substring_case_insensitive_username_email_keyname(self):
        data = self.assert_list("ALICE")   # not a username (case differs): substring
        self.assertIsNone(data["matched_user_id"])
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_MAIN, K_CI})

    def test_list_substring_key_name(self):
        data = self.assert_list("RUNNER")
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_CI})

    def test_list_substring_unicode_case_insensitive(self):
        data = self.assert_list("КЛЮЧ")     # key name "ключ-mallory"
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_MALLORY})
        data = self.assert_list("钥匙")      # key name "张伟的钥匙"
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_ZHANG})

    def test_list_substring_email(self):
        data = self.assert_list("EXAMPLE.CN")
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_ZHANG})

    def test_list_substring_username_part(self):
        data = self.assert_list("张伟")
        self.assertIsNone(data["matched_user_id"])
        self.assertEqual({i["affinity_key"] for i in data["items"]}, {K_ZHANG})

    def test_list_substring_provider_id(self):
        data = self.assert_list(P_OAI.upper())
        self.assertTrue(data["items"])
        self.assertEqual({i["provider_id"] for i in data["items"]}, {P_OAI})
        data = self.assert_list(P_GHOST)
        self.assertEqual([i["provider_id"] for i in data["items"]], [P_GHOST])

    def test_list_substring_provider_key_id(self):
        data = self.assert_list(PK_OAI_CL)
        self.assertEqual([i["key_id"] for i in data["items"]], [PK_OAI_CL])

    def test_list_substring_user_id_part(self):
        # a prefix that only user ids share (no user id itself: substring rules)
        data = self.assert_list(U_ZHANG[:-1])
        self.assertIsNone(data["matched_user_id"])
        self.assertEqual({i["user_id"] for i in data["items"]},
                         {U_ALICE, U_ZHANG, U_BOB, U_MALLORY})

    def test_list_substring_affinity_key_without_api_key_row(self):
        data = self.assert_list(K_GHOST)
        self.assertIsNone(data["matched_user_id"])
        self.assertEqual(len(data["items"]), 1)
        item = data["items"][0]
        self.assertIsNone(item["user_id"])
        self.assertIsNone(item["user_api_key_name"])
        self.assertIs(item["is_standalone"], False)

    def test_list_no_match(self):
        data = self.assert_list("no-such-thing-anywhere")
        self.assertEqual(data["items"], [])
        self.assertEqual(data["meta"]["total"], 0)
        self.assertIsNone(data["matched_user_id"])

    def test_list_enrichment_details(self):
        """Spot checks of the enrichment rules on specific rows (the full
        comparison is in test_list_all)."""
        doc, _ = self.run_json(["list"])
        rows = {(i["affinity_key"], i["api_format"], i["global_model_id"]): i for i in doc["data"]["items"]}
        a3 = rows[(K_CI, "CLAUDE", fixture.G_SONNET)]
        self.assertIs(a3["is_standalone"], True)
        self.assertIsNone(a3["key_prefix"])                      # provider key does not decrypt
        self.assertEqual(a3["rate_multiplier"], 2.25)
        self.assertEqual(a3["user_api_key_prefix"], fixture.VECTORS["openai_proj"]["masked"])
        a5 = rows[(K_ZHANG, "CLAUDE_CLI", fixture.G_SONNET)]    # value's api_format wins over the key's
        self.assertEqual(a5["endpoint_api_format"], "CLAUDE")
        a7 = rows[(K_BOB, "OPENAI", "gpt-4o-mini")]
        self.assertEqual(a7["model_name"], "gpt-4o-mini")
        self.assertIsNone(a7["model_display_name"])
        self.assertIsNone(a7["user_api_key_prefix"])             # tampered ciphertext
        a11 = rows[(K_MAIN, "CLAUDE_CLI", fixture.G_SONNET)]
        for f in ("provider_name", "endpoint_api_format", "endpoint_url", "key_name", "key_prefix"):
            self.assertIsNone(a11[f], f)
        self.assertEqual(a11["rate_multiplier"], 1.0)
        a12 = rows[(K_CI, "openai", fixture.G_GPT4O)]           # value without api_format/model_name
        self.assertEqual(a12["model_name"], "gpt-4o")
        a9 = rows[(K_MALLORY, "OPENAI", fixture.G_GPT4O)]
        self.assertEqual(a9["provider_name"], "")                # display_name as stored
        self.assertEqual(a9["key_prefix"], "abc********")
        a13 = rows[(K_MALLORY, "CLAUDE", fixture.G_OLD)]
        self.assertEqual(a13["model_display_name"], "Old Model")
        a4 = rows[(K_ZHANG, "CLAUDE", fixture.G_SONNET)]
        self.assertEqual(a4["user_api_key_prefix"], "密钥-测试-кл********-終わり")
        self.assertEqual(a4["key_prefix"], "sk-\x1b[2J-********tail")  # escaped in JSON, exact when parsed

    # -------------------------------------------------------- pagination

    def test_pagination(self):
        self.assert_list(None, limit=3, offset=2)
        self.assert_list(None, limit=1)
        self.assert_list(None, limit=1000)
        self.assert_list(None, limit=5, offset=12)           # last page: 2 rows
        self.assert_list(None, limit=5, offset=14)           # just past the end
        self.assert_list(None, offset=500)
        self.assert_list("alice", limit=2, offset=1)

    def test_pagination_pages_partition_the_list(self):
        full, _ = self.fx.expected_list(None)
        seen = []
        for off in range(0, len(full), 4):
            doc, _ = self.run_json(["list", "--limit", "4", "--offset", str(off)])
            seen += [(i["affinity_key"], i["expire_at"]) for i in doc["data"]["items"]]
        self.assertEqual(seen, [(i["affinity_key"], i["expire_at"]) for i in full])

    def test_pagination_usage_errors(self):
        for args in (["--limit", "0"], ["--limit", "1001"], ["--limit", "-1"], ["--offset", "-1"],
                     ["--limit", "abc"], ["--offset", "1.5"], ["--limit", ""]):
            for json_flag in ([], ["--json"]):
                rc, out, err = self.run_at(["list"] + args + json_flag, expect_rc=2)
                self.assertEqual(out, "", "stdout of list %s" % args)
                self.assertEqual(len(err.strip().splitlines()), 1, "one-line error for %s: %r" % (args, err))
                self.assertIn("--limit" if "--limit" in args else "--offset", err)

    # ---------------------------------------------------------- affinity

    def assert_affinity(self, ident):
        doc, err = self.run_json(["affinity", ident])
        exp = self.fx.expected_user_affinity(ident)
        self.assertEqual(doc, exp, "affinity %r" % ident)
        key_order(self, doc, exp, "affinity answer")
        key_order(self, doc["user_info"], exp["user_info"], "user_info")
        for g, e in zip(doc["affinities"], exp["affinities"]):
            key_order(self, g, e, "affinity item")
        return doc

    def test_affinity_ok(self):
        doc = self.assert_affinity("alice")
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["total_endpoints"], 5)
        exp = [a["expire_at"] for a in doc["affinities"]]
        self.assertEqual(exp, sorted(exp, reverse=True))
        # model_name is the raw stored value (a GlobalModel id)
        self.assertIn(fixture.G_SONNET, {a["model_name"] for a in doc["affinities"]})

    def test_affinity_by_other_identifiers(self):
        self.assertEqual(self.assert_affinity("zhang.wei@example.cn")["user_info"]["user_id"], U_ZHANG)
        self.assertEqual(self.assert_affinity(U_BOB)["total_endpoints"], 4)  # incl. expired-but-present
        self.assertEqual(self.assert_affinity(K_ZHANG)["user_info"]["username"], "张伟测试")
        self.assertEqual(self.assert_affinity("bob@example.org")["user_info"]["user_id"], U_MALLORY)
        self.assertEqual(self.assert_affinity("  张伟测试  ")["user_info"]["user_id"], U_ZHANG)

    def test_affinity_user_without_affinities(self):
        doc = self.assert_affinity("carol")
        self.assertEqual(doc["status"], "not_found")
        self.assertEqual(doc["affinities"], [])
        self.assertNotIn("total_endpoints", doc)

    def test_affinity_unknown_user_404(self):
        for ident in ("nobody", "Alice", fixture.P_ANT, "  ghost  "):
            doc, err = self.run_json(["affinity", ident], expect_rc=1)
            self.assertEqual(doc, {"detail": AFFINITY_404 % ident})
            self.assertTrue(err.strip(), "a reason on stderr")
            rc, out, err = self.run_at(["affinity", ident], expect_rc=1)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(ident.strip(), err)

    def test_affinity_human(self):
        _, out, _ = self.run_at(["affinity", "张伟测试"])
        self.assertIn("张伟测试", out)
        self.assertIn("zhang.wei@example.cn", out)
        self.assertIn(self.fx.api_keys[K_ZHANG]["name"], out)

    # ---------------------------------------------------------- mappings

    def test_mappings_json(self):
        doc, _ = self.run_json(["mappings"])
        self.assertEqual(doc["status"], "ok")
        exp = self.fx.expected_mappings()
        data = doc["data"]
        settle_ttls(self, data, exp, time.time() - self.fx.now + 1)
        for k in exp:
            self.assertEqual(data.get(k), exp[k], "mappings data.%s" % k)
        self.assertEqual(list(data.keys())[:len(exp)], list(exp.keys()), "key order of data")
        key_order(self, data["breakdown"], exp["breakdown"], "breakdown")
        for g, e in zip(data["mappings"], exp["mappings"]):
            key_order(self, g, e, "mapping")
        for g, e in zip(data["provider_model_mappings"], exp["provider_model_mappings"]):
            key_order(self, g, e, "provider mapping")
        for g, e in zip(data["unmapped"], exp["unmapped"]):
            key_order(self, g, e, "unmapped")
        # spot checks that do not depend on the model
        self.assertEqual(data["breakdown"]["model_by_provider_global"], 10)  # hits keys excluded
        names = [u["mapping_name"] for u in data["unmapped"]]
        self.assertEqual(names, sorted(names))
        self.assertIn("alias:global_model:resolve:nested", names)
        hits = {(p["provider_id"], p["global_model_id"]): p["hit_count"] for p in data["provider_model_mappings"]}
        self.assertEqual(hits[(P_ANT, fixture.G_SONNET)], 42)
        self.assertNotIn((P_AZ, fixture.G_SONNET), hits)      # hit counter not an integer

    def test_mappings_human(self):
        _, out, _ = self.run_at(["mappings"])
        for s in ("sonnet", "克劳德", "Anthropic Main", "OpenAI Proxy", "azure-east",
                  "claude-sonnet-4-20250514", "unknown-model", "not_found", "invalid"):
            self.assertIn(s, out)

    # ------------------------------------------------- bad records / secrets

    def test_bad_records_skipped_and_reported_everywhere(self):
        for args in (["list"], ["list", "alice"], ["list", "zzz"], ["stats"], ["affinity", "alice"]):
            for json_flag in ([], ["--json"]):
                _, out, err = self.run_at(args + json_flag)
                self.assert_skip_report(err, " ".join(args + json_flag))
                self.assertEqual(len(SKIP_LINE.findall(err)), 1, "reported once: %r" % err)
        doc, _ = self.run_json(["list", K_MAIN])
        for item in doc["data"]["items"]:
            self.assertFalse(item["global_model_id"].startswith("bad-"), item)

    def test_human_list_shows_masked_keys_and_cjk_username(self):
        _, out, err = self.run_at(["list"])
        for s in ("张伟测试", "sk-jhiId********AABB", "sk-ant-a********_QAA", "abc********",
                  "AIzaSyD-********pqrs", "main-key", "Anthropic Main"):
            self.assertIn(s, out)
        for ch in ("\x1b", "\x07", "\u202e"):
            self.assertNotIn(ch, out, "raw control character in the human table")
        self.assertGreaterEqual(len(out.splitlines()), len(fixture.AFFINITIES) + 1)

    def test_no_secret_in_any_output(self):
        """run_at checks every output against the secrets; this runs each read
        command in both forms so none is left out."""
        for args in (["list"], ["list", "alice"], ["stats"], ["metrics"], ["mappings"],
                     ["affinity", "bob"], ["config"]):
            self.run_at(args)
            self.run_at(args + ["--json"])
        for k in list(self.fx.api_keys.values()) + list(self.fx.provider_keys.values()):
            self.assertTrue(k["plaintext"] is None or k["masked"] != k["plaintext"])

    def test_json_output_has_no_raw_control_bytes(self):
        _, out, _ = self.run_at(["list", "--json"])
        self.assertIsNone(re.search(r"[\x00-\x1f\x7f]", out.rstrip("\n")), "raw control byte in JSON")


class ReferenceEdges(harness.IntegrationTest):
    """Values the gateway never writes but a hand-edited or damaged Redis can
    hold, each checked against what the reference's code does with it (worked
    out from reference/000_3c3c6f2ba77ebf24 and the gateway's json.loads and
    int(), not from aethertop). The PostgreSQL rows are the fixture's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load_pg(cls.ctx)

    def setUp(self):
        self.ctx.flushdb()

    def run_json(self, args):
        rc, out, err = self.ctx.run_aethertop(list(args) + ["--json"], env=fixture.dev_env())
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def set(self, pairs, ttl=300):
        for reply in self.ctx.r.pipeline([("SETEX", k, ttl, v) if ttl else ("SET", k, v) for k, v in pairs]):
            if isinstance(reply, harness.RedisError):
                raise reply

    def test_list_request_count_as_stored(self):
        """The reference shows affinity.get("request_count", 0): a null stays
        null, a fraction or a huge number stays what it is; only an absent
        field is 0."""
        now = time.time()
        counts = {"null": None, "half": 2.5, "huge": 9.2e18, "neg": -9.2e18, "tiny": 1e-300, "big": 1e300,
                  "int": 7}
        pairs = []
        for i, (name, count) in enumerate(sorted(counts.items())):
            v = {"provider_id": P_ANT, "endpoint_id": fixture.E_ANT_CLAUDE, "key_id": fixture.PK_ANT1,
                 "created_at": now, "expire_at": now + 100 + i, "request_count": count}
            pairs.append(("cache_affinity:%s:CLAUDE:%s" % (K_MAIN, name), json.dumps(v)))
        pairs.append(("cache_affinity:%s:CLAUDE:absent" % K_MAIN,
                      json.dumps({"provider_id": P_ANT, "expire_at": now + 50})))
        self.set(pairs)
        items = self.run_json(["list"])["data"]["items"]
        got = {i["global_model_id"]: i["request_count"] for i in items}
        counts["absent"] = 0
        self.assertEqual(got, counts)
        for name, count in got.items():
            self.assertIs(type(count), type(counts[name]), name)
        # the user-affinity answer carries the same values
        aff = {a["model_name"]: a["request_count"] for a in self.run_json(["affinity", "alice"])["affinities"]}
        self.assertEqual(aff, counts)

    def test_list_values_of_other_types_as_the_reference_shows_them(self):
        """created_at and request_count are echoed by the reference whatever
        their JSON type, and expire_at only has to sort as `expire_at or 0`;
        ids of another type break its PostgreSQL look-ups (those records are
        skipped and counted, and so is an api_format that is not text: SPEC,
        a number where a string belongs)."""
        now = time.time()
        base = {"provider_id": P_ANT, "endpoint_id": fixture.E_ANT_CLAUDE, "key_id": fixture.PK_ANT1,
                "created_at": now, "expire_at": now + 100, "request_count": 1}
        shown = {"created-text": {"created_at": "yesterday"}, "created-list": {"created_at": [1, "x"]},
                 "count-text": {"request_count": "5"}, "count-bool": {"request_count": True},
                 "expire-true": {"expire_at": True}, "expire-empty": {"expire_at": ""}}
        skipped = {"expire-text": {"expire_at": "soon"}, "provider-num": {"provider_id": 7},
                   "model-bool": {"model_name": True}, "format-num": {"api_format": 5}}
        pairs = []
        for name, fields in list(shown.items()) + list(skipped.items()):
            v = dict(base, **fields)
            pairs.append(("cache_affinity:%s:CLAUDE:%s" % (K_MAIN, name), json.dumps(v)))
        self.set(pairs)
        rc, out, err = self.ctx.run_aethertop(["list", "--json"], env=fixture.dev_env())
        self.assertEqual(rc, 0, err)
        self.assertIn("4 unreadable affinities skipped (4 field of the wrong type)", err)
        items = {i["global_model_id"]: i for i in json.loads(out)["data"]["items"]}
        self.assertEqual(sorted(items), sorted(shown))
        for name, fields in shown.items():
            for field, value in fields.items():
                self.assertEqual(items[name][field], value, name)
                self.assertIs(type(items[name][field]), type(value), name)
        # expire_at or 0: the others (now + 100) first, then True (1), then "" (0)
        order = [i["global_model_id"] for i in json.loads(out)["data"]["items"]]
        self.assertEqual(order[-2:], ["expire-true", "expire-empty"])
        aff = {a["model_name"]: a for a in self.run_json(["affinity", "alice"])["affinities"]}
        self.assertEqual(aff["count-text"]["request_count"], "5")
        self.assertEqual(aff["created-text"]["created_at"], "yesterday")

    def test_list_substring_lowered_like_python(self):
        """keyword.lower() in field.lower(), with Python's lower(): a capital
        sigma ending a word lowers to the final sigma, U+0130 to "i" + U+0307."""
        L = harness.sql_literal
        users = [("u-greek", "ΟΔΟΣ", "greek@example.gr"), ("u-turk", "İstanbul", "turk@example.tr")]
        self.ctx.psql("".join(
            "INSERT INTO users (id, email, username, password_hash) VALUES (%s, %s, %s, 'x') "
            "ON CONFLICT DO NOTHING; INSERT INTO api_keys (id, user_id, key_hash, name) VALUES "
            "(%s, %s, %s, 'k') ON CONFLICT DO NOTHING;" % (L(u), L(e), L(n), L("k" + u), L(u), L("h" + u))
            for u, n, e in users))
        now = time.time()
        self.set([("cache_affinity:k%s:CLAUDE:m" % u, json.dumps({"provider_id": P_ANT, "expire_at": now + 60}))
                  for u, _n, _e in users])
        expected = {"οδος": ["ku-greek"], "οδοσ": [], "ΟΔΟΣ": ["ku-greek"], "istanbul": [],
                    "i\u0307stanbul": ["ku-turk"], "İst": ["ku-turk"], "i": ["ku-turk"]}
        for keyword, keys in expected.items():
            data = self.run_json(["list", keyword])["data"]
            if keyword == "ΟΔΟΣ":      # the exact username resolves the user
                self.assertEqual(data["matched_user_id"], "u-greek")
            else:
                self.assertIsNone(data["matched_user_id"], keyword)
            self.assertEqual(sorted(i["affinity_key"] for i in data["items"]), keys, keyword)

    def test_mapping_values_read_with_pythons_json_and_int(self):
        """The mapping view's json.loads is Python's json module (NaN and
        Infinity are numbers), its hit counters go through int(), and an
        entry whose loop or look-up raises is an error (resolve) or skipped
        (provider level)."""
        G, RES, PG, PGH = fixture.G_SONNET, fixture.RES, fixture.PG, fixture.PGH
        gm = {"id": G, "name": "claude-sonnet-4", "display_name": "Claude Sonnet 4", "is_active": True}
        self.set([
            (RES + "sonnet", json.dumps(gm)[:-1] + ', "score": NaN, "w": [Infinity, -Infinity]}'),
            (RES + "nan-top", "NaN"),
            (RES + "num-id", json.dumps({"id": 5, "name": "x"})),
            (RES + "nul", b"NOT_FOUND\x00x"),
            (PG + "%s:%s" % (P_ANT, G), json.dumps({"provider_model_name": "claude-sonnet-4-20250514",
                                                     "provider_model_mappings": [{"name": "sonnet"}]})[:-1]
             + ', "price": NaN}'),
            (PG + "%s:%s" % (P_OAI, G), json.dumps({"provider_model_name": "claude-sonnet-4",
                                                     "provider_model_mappings": 5})),
            (PG + "%s:%s" % (P_OAI, fixture.G_GPT4O), json.dumps({"provider_model_name": "gpt-4o-x"})),
        ])
        self.set([(PGH + "%s:%s" % (P_ANT, G), " 1_000\r"), (PGH + "%s:%s" % (P_OAI, fixture.G_GPT4O), " ")],
                 ttl=None)
        data = self.run_json(["mappings"])["data"]
        for entry in (data["mappings"] or []) + (data["unmapped"] or []) + (data["provider_model_mappings"] or []):
            if entry["ttl"] is not None:
                self.assertTrue(0 < entry["ttl"] <= 300, entry)
                entry["ttl"] = 300
        self.assertEqual(data["mappings"], [
            {"mapping_name": "sonnet", "global_model_name": "claude-sonnet-4",
             "global_model_display_name": "Claude Sonnet 4", "providers": ["Anthropic Main", "OpenAI Proxy"],
             "ttl": 300}])
        self.assertEqual(data["unmapped"], [
            {"mapping_name": "nan-top", "status": "error", "ttl": None},    # nan.get(): AttributeError
            {"mapping_name": "nul", "status": "invalid", "ttl": 300},       # not "NOT_FOUND"
            {"mapping_name": "num-id", "status": "error", "ttl": None},     # varchar = integer refused
        ])
        self.assertEqual(data["provider_model_mappings"], [
            {"provider_id": P_ANT, "provider_name": "Anthropic Main", "global_model_id": G,
             "global_model_name": "claude-sonnet-4", "global_model_display_name": "Claude Sonnet 4",
             "provider_model_name": "claude-sonnet-4-20250514", "aliases": ["sonnet"], "ttl": 300,
             "hit_count": 1000}])


class MappingsWhenPostgresFails(harness.IntegrationTest):
    """A PostgreSQL look-up that fails part-way (here: no models table) is
    said on stderr, not passed off as 'no provider maps this name'."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load_pg(cls.ctx)
        cls.ctx.psql("DROP TABLE models;")

    def test_failed_lookup_is_a_warning(self):
        gm = {"id": fixture.G_SONNET, "name": "claude-sonnet-4", "display_name": "Claude Sonnet 4"}
        self.ctx.flushdb()
        self.ctx.r.pipeline([("SETEX", fixture.RES + "sonnet", 300, json.dumps(gm))])
        for args in (["mappings", "--json"], ["mappings"]):
            rc, out, err = self.ctx.run_aethertop(args, env=fixture.dev_env())
            self.assertEqual(rc, 0, err)
            self.assertRegex(err, r"warning: PostgreSQL: .*models.*; the providers of name mappings are not shown",
                             args)
        data = json.loads(self.ctx.run_aethertop(["mappings", "--json"], env=fixture.dev_env())[1])["data"]
        self.assertEqual([m["mapping_name"] for m in data["mappings"]], ["sonnet"])


if __name__ == "__main__":
    harness.main()
