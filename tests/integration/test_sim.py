"""tests/integration/test_sim.py — owns the checks of the gateway simulator
(aethertop-sim): what `seed` writes to PostgreSQL and Redis is complete and
consistent the way the gateway's data is, `traffic` reuses, creates and
switches affinities, and the command line fails cleanly."""

import json
import re
import time

import harness

N_AFFINITIES = 2000
N_USERS = 120
N_MAPPINGS = 25
N_USAGE = 3000


def load_affinities(ctx):
    """{key(str): (value dict, ttl)} of every cache_affinity:* key."""
    keys = ctx.r.keys("cache_affinity:*")
    values = ctx.r.mget_dict(keys)
    ttls = ctx.r.pipeline([("TTL", k) for k in keys])
    out = {}
    for k, ttl in zip(keys, ttls):
        v = values[k]
        if v is None:
            continue
        out[k.decode()] = (json.loads(v), ttl)
    return out


class SimSeedTest(harness.IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t_seed = time.time()
        cls.seed_out = cls.ctx.seed(users=N_USERS, affinities=N_AFFINITIES, providers=6,
                                    models=9, mappings=N_MAPPINGS, usage=N_USAGE, seed=7,
                                    min_ttl=120)
        ctx = cls.ctx
        cls.api_keys = {r["id"]: r for r in ctx.query(
            "SELECT id, user_id, key_hash, key_encrypted, is_standalone FROM api_keys")}
        cls.endpoints = {r["id"]: r for r in ctx.query(
            "SELECT id, provider_id, api_format FROM provider_endpoints")}
        cls.pkeys = {r["id"]: r for r in ctx.query(
            "SELECT id, endpoint_id, api_key, cache_ttl_minutes FROM provider_api_keys")}
        cls.providers = {r["id"]: r for r in ctx.query("SELECT id, name FROM providers")}
        cls.gmodels = {r["id"]: r for r in ctx.query("SELECT id, name FROM global_models")}
        cls.models = ctx.query("SELECT id, provider_id, global_model_id, provider_model_name, "
                               "provider_model_mappings FROM models")
        cls.affinities = load_affinities(ctx)

    # --- helpers

    def check_affinity(self, key, value, ttl, now):
        m = re.fullmatch(r"cache_affinity:([^:]+):([^:]+):(.+)", key)
        self.assertIsNotNone(m, key)
        ak, fmt, model = m.groups()
        self.assertIn(ak, self.api_keys, key)
        self.assertEqual(set(value), {"provider_id", "endpoint_id", "key_id", "api_format",
                                      "model_name", "created_at", "expire_at", "request_count"})
        self.assertEqual(value["api_format"], fmt, key)
        self.assertEqual(value["model_name"], model, key)
        self.assertIn(model, self.gmodels, key)
        ep = self.endpoints.get(value["endpoint_id"])
        self.assertIsNotNone(ep, key)
        self.assertEqual(ep["provider_id"], value["provider_id"], key)
        self.assertEqual(ep["api_format"], fmt, key)
        pk = self.pkeys.get(value["key_id"])
        self.assertIsNotNone(pk, key)
        self.assertEqual(pk["endpoint_id"], value["endpoint_id"], key)
        self.assertGreater(pk["cache_ttl_minutes"], 0, key)
        # the provider serves this global model
        self.assertTrue(any(md["provider_id"] == value["provider_id"]
                            and md["global_model_id"] == model for md in self.models), key)
        self.assertIsInstance(value["request_count"], int)
        self.assertGreaterEqual(value["request_count"], 1)
        self.assertIsInstance(value["created_at"], float)
        self.assertIsInstance(value["expire_at"], float)
        self.assertLessEqual(value["created_at"], now + 1, key)
        self.assertLess(value["created_at"], value["expire_at"], key)
        self.assertGreater(ttl, 0, key)
        self.assertLessEqual(ttl, pk["cache_ttl_minutes"] * 60, key)
        # expire_at and the Redis TTL describe the same moment
        self.assertLess(abs((value["expire_at"] - now) - ttl), 5.0, key)

    # --- PostgreSQL

    def test_seed_summary(self):
        self.assertIn("%d affinities" % N_AFFINITIES, self.seed_out)

    def test_seed_refuses_a_non_empty_database(self):
        rc, out, err = self.ctx.run_sim(["seed", "--affinities", "5", "--seed", "99"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("empty", err)
        self.assertEqual(len(self.ctx.r.keys("cache_affinity:*")), N_AFFINITIES)

    def test_pg_rows(self):
        ctx = self.ctx
        self.assertEqual(ctx.query_value("SELECT count(*) FROM users"), N_USERS)
        names = {r["username"] for r in ctx.query("SELECT username FROM users")}
        self.assertIn("张伟", names)
        self.assertTrue(any(re.search(r"[\u4e00-\u9fff]", n) for n in names))
        emails = ctx.query_value("SELECT count(DISTINCT email) FROM users WHERE email LIKE '%@%'")
        self.assertEqual(emails, N_USERS)
        self.assertEqual(len(self.providers), 6)
        self.assertEqual(len(self.gmodels), 9)
        self.assertGreater(len(self.api_keys), 0)
        self.assertTrue(any(k["is_standalone"] for k in self.api_keys.values()))
        for k in self.api_keys.values():
            self.assertRegex(k["key_hash"], r"^[0-9a-f]{64}$")
        # endpoints: api_format unique per provider, every provider has one
        seen = set()
        for ep in self.endpoints.values():
            self.assertIn(ep["provider_id"], self.providers)
            pair = (ep["provider_id"], ep["api_format"])
            self.assertNotIn(pair, seen)
            seen.add(pair)
        self.assertEqual({p for p, _ in seen}, set(self.providers))
        for pk in self.pkeys.values():
            self.assertIn(pk["endpoint_id"], self.endpoints)
        self.assertTrue(all(md["provider_id"] in self.providers
                            and md["global_model_id"] in self.gmodels for md in self.models))
        mapped = [md for md in self.models if md["provider_model_mappings"]]
        self.assertTrue(mapped, "some models carry provider_model_mappings")
        for md in mapped:
            self.assertIsInstance(md["provider_model_mappings"], list)
            for entry in md["provider_model_mappings"]:
                self.assertIsInstance(entry["name"], str)
        configs = {r["key"]: r["value"] for r in ctx.query("SELECT key, value FROM system_configs")}
        self.assertIn("provider_priority_mode", configs)
        self.assertIn("scheduling_mode", configs)

    def test_stored_keys_are_fernet_tokens(self):
        key = harness.fernet_key(harness.ENCRYPTION_KEY)
        for k in self.api_keys.values():
            self.assertTrue(harness.fernet_token_ok(k["key_encrypted"], key), k["id"])
        for pk in self.pkeys.values():
            self.assertTrue(harness.fernet_token_ok(pk["api_key"], key), pk["id"])
        wrong = harness.fernet_key("some-other-key")
        self.assertFalse(harness.fernet_token_ok(next(iter(self.pkeys.values()))["api_key"], wrong))

    def test_usage_rows(self):
        rows = self.ctx.query(
            "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, "
            "min(extract(epoch FROM created_at)) AS first, max(extract(epoch FROM created_at)) AS last, "
            "sum(cache_read_input_tokens) AS cache_read, sum(input_tokens) AS input, "
            "count(*) FILTER (WHERE status = 'completed') AS completed, "
            "count(*) FILTER (WHERE provider_id IS NULL OR api_key_id IS NULL OR user_id IS NULL) AS orphans "
            "FROM usage")[0]
        self.assertEqual(rows["n"], N_USAGE)
        self.assertEqual(rows["ids"], N_USAGE)
        self.assertGreater(float(rows["first"]), self.t_seed - 2 * 3600 - 60)
        self.assertLessEqual(float(rows["last"]), time.time() + 1)
        self.assertGreater(rows["cache_read"], 0)
        self.assertGreater(rows["input"], 0)
        self.assertGreater(rows["completed"], N_USAGE * 0.8)
        self.assertEqual(rows["orphans"], 0)
        bad = self.ctx.query_value(
            "SELECT count(*) FROM usage u LEFT JOIN providers p ON p.id = u.provider_id "
            "LEFT JOIN api_keys k ON k.id = u.api_key_id "
            "WHERE p.name IS DISTINCT FROM u.provider OR k.user_id IS DISTINCT FROM u.user_id")
        self.assertEqual(bad, 0)
        # appended oldest first, as the gateway writes them: the table's
        # physical order follows created_at (PostgreSQL may still drop a
        # short row into an earlier page's free space), so a window's rows
        # sit together on disk
        corr = self.ctx.query_value(
            "SELECT corr((ctid::text::point)[0], extract(epoch FROM created_at)::float8) FROM usage")
        self.assertGreater(float(corr), 0.99)

    def test_ttl_advice_percentiles_recomputed(self):
        """aethertop's per-user interval percentiles equal ones computed here
        from the raw rows (linear interpolation, as percentile_cont does),
        completed requests only, as the gateway's analysis counts them."""
        rows = self.ctx.query("SELECT user_id, extract(epoch FROM created_at)::float8 AS t FROM usage "
                              "WHERE user_id IS NOT NULL AND status = 'completed' ORDER BY user_id, created_at")
        times = {}
        for r in rows:
            times.setdefault(r["user_id"], []).append(float(r["t"]))

        def pct(sorted_vals, p):
            pos = p * (len(sorted_vals) - 1)
            lo = int(pos)
            hi = min(lo + 1, len(sorted_vals) - 1)
            return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)

        expect = {}
        for user, ts in times.items():
            gaps = sorted((b - a) / 60.0 for a, b in zip(ts, ts[1:]))
            if len(gaps) >= 2:
                expect[user] = (len(ts), pct(gaps, 0.5), pct(gaps, 0.75), pct(gaps, 0.9))
        self.assertGreater(len(expect), 10)
        rc, out, err = self.ctx.run_aethertop(["ttl-advice", "--hours", "3", "--json"])
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        got = {u["user_id"]: u for u in data["users"]}
        self.assertEqual(set(got), set(expect))
        buckets = {"5": 0, "15": 0, "30": 0, "60": 0}
        for user, (n, p50, p75, p90) in expect.items():
            u = got[user]
            self.assertEqual(u["requests"], n, user)
            self.assertAlmostEqual(u["p50_interval_minutes"], p50, places=4)
            self.assertAlmostEqual(u["p75_interval_minutes"], p75, places=4)
            self.assertAlmostEqual(u["p90_interval_minutes"], p90, places=4)
            rec = 5 if p90 <= 5 else 15 if p75 <= 15 else 30 if p75 <= 30 else 60
            self.assertEqual(u["recommended_ttl_minutes"], rec, user)
            buckets[str(rec)] += 1
        self.assertEqual(data["summary"], buckets)

    # --- Redis

    def test_affinity_count_and_consistency(self):
        self.assertEqual(len(self.affinities), N_AFFINITIES)
        now = time.time()
        for key, (value, ttl) in self.affinities.items():
            self.check_affinity(key, value, ttl, now)
        # spread: many keys, several providers, more than one format
        self.assertGreater(len({k.split(":")[1] for k in self.affinities}), 50)
        self.assertGreater(len({v["provider_id"] for v, _ in self.affinities.values()}), 1)
        self.assertGreater(len({v["api_format"] for v, _ in self.affinities.values()}), 1)
        self.assertTrue(any(v["request_count"] > 1 for v, _ in self.affinities.values()))

    def test_values_are_python_json_dumps(self):
        key = next(iter(self.affinities))
        raw = self.ctx.redis("GET", key).decode()
        self.assertTrue(raw.startswith('{"provider_id": "'), raw)
        self.assertIn('", "endpoint_id": "', raw)

    def test_mapping_cache_keys(self):
        r = self.ctx.r
        model_id = r.keys("model:id:*")
        pg = r.keys("model:provider_global:*")
        hits = [k for k in pg if k.startswith(b"model:provider_global:hits:")]
        entries = [k for k in pg if not k.startswith(b"model:provider_global:hits:")]
        self.assertEqual(len(model_id), len(self.models))
        self.assertEqual(len(entries), len(self.models))
        self.assertEqual(len(hits), len(self.models))
        for k in hits:
            self.assertGreater(int(r("GET", k)), 0)
        for k in entries:
            _, _, p, g = k.decode().split(":")
            self.assertIn(p, self.providers)
            self.assertIn(g, self.gmodels)
            value = json.loads(r("GET", k))
            self.assertIn("provider_model_name", value)
            self.assertIn("provider_model_mappings", value)
            ttl = r("TTL", k)
            self.assertTrue(0 < ttl <= 300, ttl)
        self.assertEqual(len(r.keys("global_model:id:*")), len(self.gmodels))
        self.assertEqual(len(r.keys("global_model:name:*")), len(self.gmodels))

        resolve = r.keys("global_model:resolve:*")
        self.assertEqual(len(resolve), N_MAPPINGS)
        aliases = {e["name"] for md in self.models for e in (md["provider_model_mappings"] or [])}
        names = {g["name"] for g in self.gmodels.values()}
        kinds = {"alias": 0, "name": 0, "not_found": 0}
        for k in resolve:
            requested = k.decode()[len("global_model:resolve:"):]
            raw = r("GET", k)
            self.assertTrue(0 < r("TTL", k) <= 300)
            if raw == b"NOT_FOUND":
                self.assertNotIn(requested, names)
                kinds["not_found"] += 1
                continue
            value = json.loads(raw)
            self.assertIn(value["id"], self.gmodels)
            self.assertEqual(value["name"], self.gmodels[value["id"]]["name"])
            if requested == value["name"]:
                kinds["name"] += 1
            else:
                self.assertIn(requested, aliases)
                kinds["alias"] += 1
        for kind, n in kinds.items():
            self.assertGreater(n, 0, kind)


class SimTrafficTest(harness.IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctx.seed(users=40, affinities=300, providers=5, models=6, usage=100, seed=3,
                     min_ttl=120)

    def test_traffic_reuses_and_switches(self):
        ctx = self.ctx
        before = load_affinities(ctx)
        usage_before = ctx.query_value("SELECT count(*) FROM usage")
        rc, out, err = ctx.run_sim(["traffic", "--rate", "200", "--duration", "2",
                                    "--switch-ratio", "0.2", "--seed", "5"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("\n"), 1, out)
        m = re.search(r"(\d+) writes .*?(\d+) reuse, (\d+) new, (\d+) switch", out)
        self.assertIsNotNone(m, out)
        writes, reuse, new, switch = map(int, m.groups())
        self.assertGreater(writes, 250)
        self.assertLess(writes, 600)
        self.assertGreater(reuse, 0)
        self.assertGreater(new, 0)
        self.assertGreater(switch, 0)

        after = load_affinities(ctx)
        self.assertGreater(len(after), len(before))
        bumped = switched = 0
        for key, (old, _) in before.items():
            if key not in after:
                continue
            cur = after[key][0]
            route_old = (old["provider_id"], old["endpoint_id"], old["key_id"])
            route_new = (cur["provider_id"], cur["endpoint_id"], cur["key_id"])
            if route_old != route_new:
                # re-pointed: created_at reset to the switch time (request_count
                # restarted at 1, possibly reused again since)
                self.assertGreater(cur["created_at"], old["created_at"], key)
                self.assertLessEqual(cur["request_count"], writes, key)
                switched += 1
            elif cur["created_at"] == old["created_at"] and cur["request_count"] > old["request_count"]:
                self.assertGreater(cur["expire_at"], old["expire_at"] - 300, key)
                bumped += 1
        self.assertGreater(bumped, 0)
        self.assertGreater(switched, 0)

        # what traffic wrote is as consistent as what seed wrote
        endpoints = {r["id"]: r for r in ctx.query(
            "SELECT id, provider_id, api_format FROM provider_endpoints")}
        pkeys = {r["id"]: r["endpoint_id"] for r in ctx.query(
            "SELECT id, endpoint_id FROM provider_api_keys")}
        for key, (value, ttl) in after.items():
            ep = endpoints[value["endpoint_id"]]
            self.assertEqual(ep["provider_id"], value["provider_id"], key)
            self.assertEqual(ep["api_format"], key.split(":")[2], key)
            self.assertEqual(pkeys[value["key_id"]], value["endpoint_id"], key)
            self.assertGreater(ttl, 0, key)
        self.assertGreater(ctx.query_value("SELECT count(*) FROM usage"), usage_before)
        recent = ctx.query_value(
            "SELECT count(*) FROM usage WHERE created_at > now() - interval '1 minute'")
        self.assertGreater(recent, 0)

    def test_traffic_stops_on_sigterm(self):
        proc = self.ctx.spawn_sim(["traffic", "--rate", "50"])
        try:
            # its SIGTERM handler is set before it connects to Redis: a fixed
            # 0.7 s could end a slow start before that (killed, status -15)
            harness.wait_connected(proc, harness.REDIS_PORT, timeout=30)
            proc.terminate()
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("traffic:", out)


class SimCommandLineTest(harness.IntegrationTest):
    SCHEMA = False

    def sim(self, *args, env=None):
        return self.ctx.run_sim(list(args), env=env, timeout=30)

    def assert_usage_error(self, rc, out, err):
        self.assertEqual(rc, 2, (out, err))
        self.assertEqual(out, "")
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("aethertop-sim: "), err)

    def test_help(self):
        for args in (["--help"], ["seed", "--help"], ["traffic", "--help"]):
            rc, out, err = self.sim(*args)
            self.assertEqual(rc, 0, err)
            self.assertIn("usage:", out)
            self.assertIn("--affinities", out)
            self.assertEqual(err, "")

    def test_usage_errors(self):
        self.assert_usage_error(*self.sim())
        self.assert_usage_error(*self.sim("frobnicate"))
        self.assert_usage_error(*self.sim("seed", "--bogus"))
        self.assert_usage_error(*self.sim("seed", "--users"))
        self.assert_usage_error(*self.sim("seed", "--users", "many"))
        self.assert_usage_error(*self.sim("seed", "--affinities", "-5"))
        self.assert_usage_error(*self.sim("seed", "--rate", "5"))
        self.assert_usage_error(*self.sim("traffic"))
        self.assert_usage_error(*self.sim("traffic", "--rate", "10", "--users", "3"))
        self.assert_usage_error(*self.sim("seed", "--redis", "http://nope"))
        self.assert_usage_error(*self.sim("seed", "--redis", "redis://127.0.0.1:99999/0"))
        self.assert_usage_error(*self.sim("seed", env={"REDIS_URL": None}))
        self.assert_usage_error(*self.sim("seed", env={"DATABASE_URL": None}))

    def test_runtime_errors_are_one_line(self):
        # nothing listens on port 1
        rc, out, err = self.sim("seed", "--redis", "redis://127.0.0.1:1/0")
        self.assertEqual(rc, 1, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("Redis", err)
        rc, out, err = self.sim("seed", "--database", "postgresql://postgres@127.0.0.1:1/x")
        self.assertEqual(rc, 1, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("PostgreSQL", err)
        # no schema in this database: the COPY fails with a clear message
        rc, out, err = self.sim("seed", "--affinities", "10")
        self.assertEqual(rc, 1, err)
        self.assertIn("users", err)
        # traffic against an empty gateway database
        with open(harness.SCHEMA_PATH, encoding="utf-8") as f:
            self.ctx.psql(f.read())
        rc, out, err = self.sim("traffic", "--rate", "10", "--duration", "0.2")
        self.assertEqual(rc, 1, err)
        self.assertIn("seed", err)


if __name__ == "__main__":
    harness.main()
