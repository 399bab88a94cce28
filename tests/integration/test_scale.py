"""tests/integration/test_scale.py — owns the check that the whole pipeline
is still correct at size: 50,000 affinities from the simulator, listed,
counted, paged and cleared by provider, each answer compared with what Redis
itself holds (read with this test's own client)."""

import json

import harness

N = 50000


class ScaleTest(harness.IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctx.seed(users=1000, affinities=N, providers=8, models=20, mappings=10, usage=100,
                     seed=11, min_ttl=250)

    def redis_values(self):
        keys = self.ctx.r.keys("cache_affinity:*")
        vals = self.ctx.r.mget_dict(keys)
        return {k.decode(): json.loads(v) for k, v in vals.items() if v is not None}

    def test_list_stats_and_clear_at_size(self):
        truth = self.redis_values()
        self.assertGreaterEqual(len(truth), N - 50)   # a few may expire meanwhile: TTLs >= 250 s

        rc, out, err = self.ctx.run_aethertop(["stats", "--json"], timeout=120)
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        self.assertEqual(data["unreadable_skipped"], 0)
        self.assertAlmostEqual(data["total_affinity_keys"], len(truth), delta=50)
        by_provider = {p["provider_id"]: p["count"] for p in data["by_provider"]}
        want = {}
        for v in truth.values():
            want[v["provider_id"]] = want.get(v["provider_id"], 0) + 1
        for pid, count in want.items():
            self.assertAlmostEqual(by_provider.get(pid, 0), count, delta=50, msg=pid)

        # paging through the whole list: every key once, expire_at descending
        seen, last, offset, total = set(), None, 0, None
        while True:
            rc, out, err = self.ctx.run_aethertop(
                ["list", "--json", "--limit", "1000", "--offset", str(offset)], timeout=120)
            self.assertEqual(rc, 0, err)
            page = json.loads(out)["data"]
            total = page["meta"]["total"] if total is None else total
            for item in page["items"]:
                if last is not None:
                    self.assertLessEqual(item["expire_at"], last)
                last = item["expire_at"]
                seen.add(item["affinity_key"] + ":" + item["api_format"] + ":" + item["global_model_id"])
            offset += 1000
            if offset >= page["meta"]["total"] or offset >= 12000:
                break
        self.assertEqual(len(seen), min(total, 12000))
        self.assertAlmostEqual(total, len(truth), delta=50)

        # clear one provider: exactly its affinities go, the rest stay
        target = max(want, key=want.get)
        rc, out, err = self.ctx.run_aethertop(["clear", "provider", target, "--yes", "--json"], timeout=120)
        self.assertEqual(rc, 0, err)
        after = self.redis_values()
        self.assertFalse([k for k, v in after.items() if v["provider_id"] == target])
        kept = [k for k, v in truth.items() if v["provider_id"] != target]
        missing = [k for k in kept if k not in after]
        self.assertLessEqual(len(missing), 50, "only expiry may remove others")
        self.assertAlmostEqual(json.loads(out)["count"], want[target], delta=50)


if __name__ == "__main__":
    harness.main()
