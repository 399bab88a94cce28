"""Integration tests of every aethertop clear command on the known fixture
(fixture.py). Before each test Redis is reloaded; after each clear the whole
Redis database is read back directly and must differ from before by exactly
the target keys (every other key keeps its value and its TTL). Also:
confirmation (no --yes and stdin not a terminal; a real terminal via a pty,
including a record the gateway re-points while the prompt waits), read-only
mode, and the audit log (one JSON line per clear, no secrets, no clear when it
cannot be written).
"""

import json
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import time

import fixture
import harness
from fixture import (E_ANT_CLAUDE, E_OAI_CLAUDE, E_OAI_OPENAI, G_GEMINI, G_SONNET,
                     K_CAROL, K_GHOST, K_MAIN, K_ZHANG, P_ANT, P_GHOST, P_OAI,
                     U_ALICE, U_BOB, U_ZHANG)

CLEAR_USER_404 = "无法识别的标识符: %s。支持用户名、邮箱、User ID或API Key ID"
CLEAR_ONE_404 = "未找到指定的缓存亲和性记录"
PROMPT = re.compile(rb"Type yes to clear (\d+) ")


def _b(s):
    return s if isinstance(s, bytes) else s.encode()


class ClearCommands(harness.IntegrationTest):
    REDIS_DB = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fx = fixture.Fixture()
        cls.fx.load_pg(cls.ctx)
        cls.secrets = cls.fx.secret_strings()

    def setUp(self):
        self.fx.load_redis(self.ctx)
        self.tmp = tempfile.mkdtemp(prefix="at-clear-")
        self.state = os.path.join(self.tmp, "state")
        self.audit_path = os.path.join(self.state, "aethertop", "audit.log")
        self.before = self.dump()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def dump(self):
        """{key: (value, ttl > 0)} of the whole Redis database."""
        keys = self.ctx.r.keys("*")
        vals = self.ctx.r.mget_dict(keys) if keys else {}
        ttls = self.ctx.r.pipeline([("PTTL", k) for k in keys]) if keys else []
        return {k: (vals[k], t) for k, t in zip(keys, ttls)}

    def env(self, extra=None):
        e = {"XDG_STATE_HOME": self.state}
        e.update(extra or {})
        return fixture.dev_env(e)

    def run_at(self, args, env=None, input="", expect_rc=0):
        rc, out, err = self.ctx.run_aethertop(args, env=self.env(env), input=input)
        self.check_output(args, out, err)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "exit status of aethertop %s; stderr: %s" % (args, err))
        return rc, out, err

    def check_output(self, args, out, err):
        self.assertNoSanitizerReport(err, args)
        for s in self.secrets:
            self.assertNotIn(s, out, "secret in stdout of %s" % args)
            self.assertNotIn(s, err, "secret in stderr of %s" % args)

    def clear_json(self, args, expect_rc=0, env=None):
        rc, out, err = self.run_at(["clear"] + list(args) + ["--yes", "--json"], env=env,
                                   expect_rc=expect_rc)
        try:
            return json.loads(out), err
        except ValueError:
            self.fail("clear %s --json printed no JSON: %r (stderr %r)" % (args, out, err))

    def assert_gone_exactly(self, keys, where=""):
        """Redis now holds everything it held before except `keys`, untouched."""
        keys = {_b(k) for k in keys}
        self.assertTrue(keys <= set(self.before), "test bug: %s not in the fixture" % (keys - set(self.before)))
        after = self.dump()
        self.assertEqual(sorted(set(self.before) - set(after)), sorted(keys), "deleted keys " + where)
        self.assertEqual(sorted(set(after) - set(self.before)), [], "keys appeared " + where)
        for k, (v, ttl) in after.items():
            self.assertEqual(v, self.before[k][0], "value of %r changed %s" % (k, where))
            bt = self.before[k][1]
            if bt < 0:
                self.assertEqual(ttl, bt, "TTL of %r changed" % k)
            else:
                self.assertGreater(ttl, 0, "TTL of %r lost" % k)
                self.assertLessEqual(ttl, bt, "TTL of %r grew" % k)

    def assert_nothing_deleted(self, where=""):
        self.assert_gone_exactly([], where)

    def assert_ref_doc(self, doc, expected, deleted=None):
        """The reference's document: its keys first, in its order, with its
        values; aethertop may append extra keys (a `count` must be right)."""
        for k, v in expected.items():
            self.assertIn(k, doc)
            self.assertEqual(doc[k], v, "field %s" % k)
        self.assertEqual(list(doc.keys())[:len(expected)], list(expected.keys()), "key order")
        if "count" in doc and "count" not in expected and deleted is not None:
            self.assertEqual(doc["count"], deleted)

    def audit_lines(self):
        if not os.path.exists(self.audit_path):
            return []
        with open(self.audit_path, encoding="utf-8") as f:
            text = f.read()
        for s in self.secrets:
            self.assertNotIn(s, text, "secret in the audit log")
        return harness.audit_records(text)

    def assert_audited(self, n_before, operation_hint, count, args_contain=()):
        lines = self.audit_lines()
        self.assertEqual(len(lines), n_before + 1, "one audit line per clear")
        rec = lines[-1]
        for field in ("operation", "args", "count", "outcome"):
            self.assertIn(field, rec)
        self.assertIn(operation_hint, rec["operation"])
        self.assertEqual(rec["count"], count)
        self.assertEqual(rec["outcome"], "done")
        blob = json.dumps(rec, ensure_ascii=False)
        for a in args_contain:
            self.assertIn(a, blob)
        return rec

    def keys_of(self, pred):
        return [a["_redis_key"] for a in self.fx.readable() if pred(a)]

    def provider_targets(self, provider_id):
        """Reference invalidate_all_for_provider: every key whose JSON value is
        an object with that provider_id (records that are not objects or not
        UTF-8 are skipped: SPEC 5 deliberate difference)."""
        keys = self.keys_of(lambda a: a["provider_id"] == provider_id)
        for _reason, key, value in fixture.HOSTILE:
            try:
                v = json.loads(value)
            except ValueError:
                continue
            if isinstance(v, dict) and v.get("provider_id") == provider_id:
                keys.append(key)
        return keys

    def run_tty(self, args, answer, on_prompt=None, env=None):
        """Run with stdin on a pseudo-terminal: wait for the prompt, call
        on_prompt(), type `answer`. Returns (rc, stdout, stderr, prompt count)."""
        master, slave = pty.openpty()
        argv = [harness.AETHERTOP] + [str(a) for a in args]
        proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.ctx.env(self.env(env)))
        os.close(slave)
        buf = b""
        deadline = time.monotonic() + 20
        try:
            while not PROMPT.search(buf) or not buf.rstrip().endswith(b":"):
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("no confirmation prompt within 20 s; stderr so far %r" % buf)
                r, _, _ = select.select([proc.stderr], [], [], left)
                if not r:
                    continue
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    self.fail("aethertop exited before prompting; stderr %r" % buf)
                buf += chunk
            if on_prompt:
                on_prompt()
            os.write(master, answer.encode() + b"\n")
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        err = (buf + err).decode("utf-8", "replace")
        out = out.decode("utf-8", "replace")
        self.check_output(args, out, err)
        return proc.returncode, out, err, int(PROMPT.search(buf).group(1))

    # ------------------------------------------------------------ clear user

    def test_clear_user_by_api_key_id(self):
        targets = self.keys_of(lambda a: a["affinity_key"] == K_MAIN)
        self.assertEqual(len(targets), 3)
        doc, _ = self.clear_json(["user", K_MAIN])
        self.assert_ref_doc(doc, {
            "status": "ok", "message": "已清除 API Key main-key 的缓存亲和性",
            "user_info": {"user_id": U_ALICE, "username": "alice", "email": "alice@example.com",
                          "api_key_id": K_MAIN, "api_key_name": "main-key"}}, deleted=3)
        # only that key's: alice's other key keeps its affinities; the unreadable
        # records that merely name the key are not affinities the reference lists
        self.assert_gone_exactly(targets)
        self.assert_audited(0, "clear", 3, [K_MAIN])
        # ... and they are counted: the fixture's unreadable records under this
        # key's name (not JSON, not an object, a number for an id, bad UTF-8, NaN)
        unreadable = [k for reason, k, _v in fixture.HOSTILE if k.startswith("cache_affinity:%s:" % K_MAIN)]
        self.assertEqual(len(unreadable), 5)
        self.fx.load_redis(self.ctx)
        rc, out, err = self.run_at(["clear", "user", K_MAIN, "--yes"])
        self.assertIn("5 unreadable records named after these API keys were skipped and left in place", err)

    def test_clear_user_by_username(self):
        ids = self.fx.user_key_ids(U_ALICE)
        targets = self.keys_of(lambda a: a["affinity_key"] in ids)
        self.assertEqual(len(targets), 5)
        doc, _ = self.clear_json(["user", "alice"])
        self.assert_ref_doc(doc, {"status": "ok", "message": "已清除用户 alice 的所有缓存亲和性",
                                  "user_info": {"user_id": U_ALICE, "username": "alice",
                                                "email": "alice@example.com"}}, deleted=5)
        self.assert_gone_exactly(targets)
        self.assert_audited(0, "clear", 5)

    def test_clear_user_by_email_deletes_keys_as_found(self):
        # A5's key says "claude", its value "CLAUDE_CLI": aethertop deletes the
        # key it found (SPEC 5 deliberate difference)
        targets = self.keys_of(lambda a: a["affinity_key"] == K_ZHANG)
        self.assertEqual(len(targets), 2)
        doc, _ = self.clear_json(["user", "zhang.wei@example.cn"])
        self.assert_ref_doc(doc, {"status": "ok", "message": "已清除用户 张伟测试 的所有缓存亲和性",
                                  "user_info": {"user_id": U_ZHANG, "username": "张伟测试",
                                                "email": "zhang.wei@example.cn"}}, deleted=2)
        self.assert_gone_exactly(targets)

    def test_clear_user_by_user_id_includes_expired_present(self):
        ids = self.fx.user_key_ids(U_BOB)
        targets = self.keys_of(lambda a: a["affinity_key"] in ids)
        self.assertEqual(len(targets), 4)
        doc, _ = self.clear_json(["user", U_BOB])
        self.assertEqual(doc["user_info"]["user_id"], U_BOB)
        self.assert_gone_exactly(targets)

    def test_clear_user_cjk_username_human(self):
        rc, out, err = self.run_at(["clear", "user", "张伟测试", "--yes"])
        self.assertIn("张伟测试", out)
        self.assertIn("2", out)
        self.assert_gone_exactly(self.keys_of(lambda a: a["affinity_key"] == K_ZHANG))

    def test_clear_user_unknown_long_identifier_whole_in_the_404(self):
        ident = "nobody-" + "x" * 3000
        doc, err = self.clear_json(["user", ident], expect_rc=1)
        self.assertEqual(doc, {"detail": CLEAR_USER_404 % ident})
        self.assert_nothing_deleted()
        # and the line on stderr, whole and never cut inside a character
        ident = "a" + "é" * 600
        for cmd in (["clear", "user", ident, "--yes"], ["affinity", ident]):
            _, _, err = self.run_at(cmd, expect_rc=1)
            self.assertNotIn("\ufffd", err, cmd)
            self.assertIn('matches "%s"' % ident, err, cmd)
        _, out, _ = self.run_at(["affinity", ident, "--json"], expect_rc=1)
        self.assertEqual(json.loads(out), {"detail": "无法识别的用户标识符: %s。支持用户名、邮箱、User ID或API Key ID" % ident})
        self.assert_nothing_deleted()

    def test_clear_user_picks_keys_by_name_not_by_a_value_field(self):
        """The gateway's list_affinities sets affinity_key from the key name
        (parts[1]), over any "affinity_key" a value carries; the reference's
        clear-user picks by that. A value claiming another API key must not
        take a key named after someone else with it, nor keep its own."""
        a1 = next(a for a in fixture.AFFINITIES if a[0] == "A1")
        foreign = "cache_affinity:%s:CLAUDE:claims-main" % K_CAROL
        own = "cache_affinity:%s:CLAUDE:claims-carol" % K_MAIN
        self.ctx.r.execute("SETEX", foreign, 600, json.dumps(dict(self.fx.affinity_value(a1), affinity_key=K_MAIN)))
        self.ctx.r.execute("SETEX", own, 600, json.dumps(dict(self.fx.affinity_value(a1), affinity_key=K_CAROL)))
        self.before = self.dump()
        targets = self.keys_of(lambda a: a["affinity_key"] == K_MAIN) + [own]
        rc, out, err, n = self.run_tty(["clear", "user", K_MAIN, "--json"], "yes")
        self.assertEqual(rc, 0, err)
        self.assertEqual(n, len(targets), "the prompt's count follows the same rule")
        self.assertEqual(json.loads(out)["count"], len(targets))
        self.assert_gone_exactly(targets, "(a value naming another API key)")
        self.before = self.dump()
        doc, _ = self.clear_json(["user", K_CAROL])
        self.assertEqual(doc["count"], 1)
        self.assert_gone_exactly([foreign], "(carol's key, whatever its value says)")

    def test_clear_user_without_affinities(self):
        doc, _ = self.clear_json(["user", "carol"])
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc.get("count", 0), 0)
        self.assert_nothing_deleted()
        doc, _ = self.clear_json(["user", K_CAROL])
        self.assertEqual(doc["user_info"]["api_key_name"], "carol-key")
        self.assert_nothing_deleted()

    def test_clear_user_unknown(self):
        for ident in ("nobody@nowhere", K_GHOST, "Alice"):
            doc, err = self.clear_json(["user", ident], expect_rc=1)
            self.assertEqual(doc, {"detail": CLEAR_USER_404 % ident})
            rc, out, err = self.run_at(["clear", "user", ident, "--yes"], expect_rc=1)
            self.assertTrue(err.strip())
            self.assert_nothing_deleted(ident)
        self.assertEqual(self.audit_lines(), [])

    # -------------------------------------------------------- clear affinity

    def test_clear_affinity_ok(self):
        target = self.fx.by_name("A1")["_redis_key"]
        doc, _ = self.clear_json(["affinity", K_MAIN, E_ANT_CLAUDE, G_SONNET, "CLAUDE"])
        self.assert_ref_doc(doc, {"status": "ok", "message": "已清除缓存亲和性: main-key",
                                  "affinity_key": K_MAIN, "endpoint_id": E_ANT_CLAUDE,
                                  "model_id": G_SONNET}, deleted=1)
        self.assert_gone_exactly([target])
        self.assert_audited(0, "clear", 1, [K_MAIN, E_ANT_CLAUDE, G_SONNET])

    def test_clear_affinity_key_parts_not_value_fields(self):
        # A5: key ...:claude:..., value api_format CLAUDE_CLI — the key names it
        target = self.fx.by_name("A5")["_redis_key"]
        doc, _ = self.clear_json(["affinity", K_ZHANG, E_ANT_CLAUDE, G_SONNET, "claude"])
        self.assertEqual(doc["message"], "已清除缓存亲和性: 张伟的钥匙")
        self.assert_gone_exactly([target])

    def test_clear_affinity_without_api_key_row(self):
        target = self.fx.by_name("A10")["_redis_key"]
        doc, _ = self.clear_json(["affinity", K_GHOST, E_ANT_CLAUDE, G_SONNET, "CLAUDE"])
        self.assertEqual(doc["message"], "已清除缓存亲和性: " + K_GHOST[:8])
        self.assert_gone_exactly([target])

    def test_clear_affinity_without_api_key_row_cuts_at_8_characters(self):
        """The reference names it by affinity_key[:8]: eight characters (code
        points), not eight bytes, which would cut a character in two."""
        a1 = next(a for a in fixture.AFFINITIES if a[0] == "A1")
        akey = "钥匙-ключ-κλειδί"
        key = "cache_affinity:%s:CLAUDE:%s" % (akey, G_SONNET)
        self.ctx.r.execute("SETEX", key, 600, json.dumps(self.fx.affinity_value(a1)))
        self.before = self.dump()
        doc, _ = self.clear_json(["affinity", akey, E_ANT_CLAUDE, G_SONNET, "CLAUDE"])
        self.assertEqual(doc["message"], "已清除缓存亲和性: " + akey[:8])
        self.assert_gone_exactly([key])

    def test_clear_affinity_long_key_name_whole(self):
        """The reference's message carries the API key's name whole."""
        a1 = next(a for a in fixture.AFFINITIES if a[0] == "A1")
        old = self.ctx.query_value("SELECT name FROM api_keys WHERE id = '%s'" % K_CAROL)
        self.addCleanup(self.ctx.psql, "UPDATE api_keys SET name = '%s' WHERE id = '%s'"
                        % (old.replace("'", "''"), K_CAROL))
        name = "缓存钥匙" * 25                         # 100 characters, 300 bytes
        self.ctx.psql("UPDATE api_keys SET name = '%s' WHERE id = '%s'" % (name, K_CAROL))
        key = "cache_affinity:%s:CLAUDE:%s" % (K_CAROL, G_SONNET)
        self.ctx.r.execute("SETEX", key, 600, json.dumps(self.fx.affinity_value(a1)))
        self.before = self.dump()
        doc, _ = self.clear_json(["affinity", K_CAROL, E_ANT_CLAUDE, G_SONNET, "CLAUDE"])
        self.assertEqual(doc["message"], "已清除缓存亲和性: " + name)
        self.assert_gone_exactly([key])

    def test_clear_affinity_wrong_endpoint(self):
        doc, err = self.clear_json(["affinity", K_MAIN, E_OAI_OPENAI, G_SONNET, "CLAUDE"], expect_rc=1)
        self.assertEqual(doc, {"detail": CLEAR_ONE_404})
        self.assert_nothing_deleted("wrong endpoint")

    def test_clear_affinity_missing(self):
        for args in ([K_MAIN, E_ANT_CLAUDE, G_GEMINI, "CLAUDE"],     # no such model
                     [K_MAIN, E_ANT_CLAUDE, G_SONNET, "claude"],     # api_format is case-sensitive
                     [K_MAIN, E_ANT_CLAUDE, "*", "CLAUDE"],          # no glob
                     [K_MAIN, E_ANT_CLAUDE, "bad-json", "CLAUDE"]):  # an unreadable record
            doc, err = self.clear_json(["affinity"] + args, expect_rc=1)
            self.assertEqual(doc, {"detail": CLEAR_ONE_404}, args)
            self.run_at(["clear", "affinity"] + args + ["--yes"], expect_rc=1)
            self.assert_nothing_deleted(str(args))

    def test_clear_affinity_counts_as_it_deletes(self):
        """The count that decides "not found" follows the delete script's rule
        (exists, endpoint matches): a value the listing cannot read for another
        reason (a string request_count) is still that affinity."""
        key = "cache_affinity:%s:CLAUDE:odd-count" % K_MAIN
        self.ctx.r.execute("SETEX", key, 600, json.dumps({"endpoint_id": E_ANT_CLAUDE, "request_count": "7"}))
        self.before = self.dump()
        doc, _ = self.clear_json(["affinity", K_MAIN, E_ANT_CLAUDE, "odd-count", "CLAUDE"])
        self.assertEqual(doc["count"], 1)
        self.assert_gone_exactly([key])

    def test_clear_affinity_value_python_cannot_read(self):
        """The reference's get_affinity reads the value with json.loads; one it
        cannot read is no affinity (404, kept), even when Redis's Lua cjson
        finds the endpoint in it (bytes that are not UTF-8, a hex number)."""
        e = E_ANT_CLAUDE.encode()
        odd = {"u8": b'{"endpoint_id": "%s", "x": "\xff"}' % e,
               "hex": b'{"endpoint_id": "%s", "request_count": 0x10}' % e}
        for model, value in odd.items():
            self.ctx.r.execute("SETEX", "cache_affinity:%s:CLAUDE:%s" % (K_MAIN, model), 600, value)
        self.before = self.dump()
        for model in odd:
            doc, err = self.clear_json(["affinity", K_MAIN, E_ANT_CLAUDE, model, "CLAUDE"], expect_rc=1)
            self.assertEqual(doc, {"detail": CLEAR_ONE_404}, model)
            self.assert_nothing_deleted(model)

    # ------------------------------------------------------------- clear all

    def test_clear_all(self):
        targets = self.fx.affinity_keys()
        doc, _ = self.clear_json(["all"])
        self.assertEqual(doc, {"status": "ok", "message": "已清除所有缓存亲和性", "count": len(targets)})
        self.assert_gone_exactly(targets)          # hostile records included; mapping keys kept
        self.assert_audited(0, "clear", len(targets))
        doc, _ = self.clear_json(["all"])
        self.assertEqual(doc["count"], 0)

    # -------------------------------------------------------- clear provider

    def test_clear_provider(self):
        targets = self.provider_targets(P_ANT)
        doc, _ = self.clear_json(["provider", P_ANT])
        self.assertEqual(doc, {"status": "ok", "message": "已清除Provider的缓存亲和性",
                               "provider_id": P_ANT, "count": len(targets)})
        self.assert_gone_exactly(targets)
        self.assert_audited(0, "provider", len(targets), [P_ANT])

    def test_clear_provider_escaped_id(self):
        """A value that writes the provider id with JSON escapes (\\u0030 for
        "0") is that provider's affinity all the same."""
        escaped = "".join("\\u%04x" % ord(ch) if ch.isdigit() else ch for ch in P_ANT)
        self.assertNotIn(P_ANT, escaped)
        key = "cache_affinity:%s:CLAUDE:escaped-id" % K_MAIN
        value = '{"provider_id": "%s", "endpoint_id": "%s", "key_id": "k"}' % (escaped, E_ANT_CLAUDE)
        self.assertEqual(json.loads(value)["provider_id"], P_ANT)
        self.ctx.r.execute("SETEX", key, 600, value)
        self.before = self.dump()
        targets = self.provider_targets(P_ANT) + [key]
        doc, _ = self.clear_json(["provider", P_ANT])
        self.assertEqual(doc["count"], len(targets))
        self.assert_gone_exactly(targets)

    def test_clear_provider_skips_values_python_cannot_read(self):
        """Values the gateway's json.loads cannot read (bytes that are not
        UTF-8, a raw control character in a string, a hex number, a JSON
        string rather than an object) break the reference's clear-provider;
        Redis's Lua cjson reads the first three all the same. aethertop
        leaves them in place and counts them (SPEC 5 deliberate difference),
        in the prompt's count as in the delete."""
        p = P_ANT.encode()
        odd = {
            "cache_affinity:%s:CLAUDE:p-bad-utf8" % K_MAIN: b'{"provider_id": "%s", "x": "\xff"}' % p,
            "cache_affinity:%s:CLAUDE:p-raw-newline" % K_MAIN: b'{"provider_id": "%s", "x": "a\nb"}' % p,
            "cache_affinity:%s:CLAUDE:p-hex" % K_MAIN: b'{"provider_id": "%s", "request_count": 0x10}' % p,
            "cache_affinity:%s:CLAUDE:p-string" % K_MAIN: b'"%s"' % p,
        }
        for key, value in odd.items():
            with self.assertRaises((ValueError, AttributeError), msg=key):
                json.loads(value).get("provider_id")
            self.ctx.r.execute("SETEX", key, 600, value)
        self.before = self.dump()
        targets = self.provider_targets(P_ANT)
        rc, out, err, n = self.run_tty(["clear", "provider", P_ANT, "--json"], "yes")
        self.assertEqual(rc, 0, err)
        self.assertEqual((n, json.loads(out)["count"]), (len(targets), len(targets)))
        self.assert_gone_exactly(targets, "(values Python cannot read)")
        self.assertIn("4 unreadable records that mention this provider were skipped and left in place", err)

    def test_clear_provider_without_row_and_unknown(self):
        doc, _ = self.clear_json(["provider", P_GHOST])
        self.assertEqual(doc["count"], 1)
        self.assert_gone_exactly([self.fx.by_name("A11")["_redis_key"]])
        self.before = self.dump()
        for pid in ("no-such-provider", "*", P_ANT[:-1]):
            doc, _ = self.clear_json(["provider", pid])
            self.assertEqual(doc["count"], 0, pid)
            self.assert_nothing_deleted(pid)

    def test_clear_provider_prompt_count_matches_what_is_deleted(self):
        targets = self.provider_targets(P_ANT)
        rc, out, err, n = self.run_tty(["clear", "provider", P_ANT, "--json"], "yes")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], len(targets))
        self.assert_gone_exactly(targets)
        self.assertEqual(n, len(targets), "the prompt announced %d, %d were deleted" % (n, len(targets)))

    def test_clear_provider_keeps_value_repointed_meanwhile(self):
        """The gateway re-points A1 to another provider while the prompt
        waits: compare-and-delete must keep it (SPEC 5 deliberate difference)."""
        a1 = self.fx.by_name("A1")
        targets = [k for k in self.provider_targets(P_ANT) if k != a1["_redis_key"]]
        moved = dict(self.fx.affinity_value(next(a for a in fixture.AFFINITIES if a[0] == "A1")))
        moved.update(provider_id=P_OAI, endpoint_id=E_OAI_CLAUDE, created_at=time.time(), request_count=1)
        moved_json = json.dumps(moved)

        def repoint():
            self.ctx.redis("SET", a1["_redis_key"], moved_json, "KEEPTTL")

        rc, out, err, n = self.run_tty(["clear", "provider", P_ANT, "--json"], "yes", on_prompt=repoint)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], len(targets))
        self.before[_b(a1["_redis_key"])] = (moved_json.encode(), self.before[_b(a1["_redis_key"])][1])
        self.assert_gone_exactly(targets, "(A1 re-pointed)")

    def test_clear_affinity_endpoint_changed_meanwhile(self):
        a1 = self.fx.by_name("A1")
        moved = dict(self.fx.affinity_value(next(a for a in fixture.AFFINITIES if a[0] == "A1")))
        moved.update(provider_id=P_OAI, endpoint_id=E_OAI_CLAUDE)
        moved_json = json.dumps(moved)

        def repoint():
            self.ctx.redis("SET", a1["_redis_key"], moved_json, "KEEPTTL")

        rc, out, err, n = self.run_tty(["clear", "affinity", K_MAIN, E_ANT_CLAUDE, G_SONNET, "CLAUDE",
                                        "--json"], "yes", on_prompt=repoint)
        self.assertEqual(n, 1)
        self.assertEqual(rc, 1, "the endpoint no longer matches: not found; stderr %s" % err)
        self.assertEqual(json.loads(out), {"detail": CLEAR_ONE_404})
        self.before[_b(a1["_redis_key"])] = (moved_json.encode(), self.before[_b(a1["_redis_key"])][1])
        self.assert_nothing_deleted("(A1 re-pointed)")

    # -------------------------------------------------------- clear mappings

    def test_clear_mappings(self):
        targets = self.fx.mapping_keys()
        doc, _ = self.clear_json(["mappings"])
        self.assertEqual(doc, {"status": "ok", "message": "已清除所有模型映射缓存",
                               "deleted_count": len(targets)})
        self.assert_gone_exactly(targets)          # every model:* and global_model:* key
        self.assert_audited(0, "mapping", len(targets))

    def test_clear_mapping_by_name(self):
        cases = [
            ("sonnet", ["global_model:resolve:sonnet", "global_model:name:sonnet"]),
            ("claude-sonnet", ["global_model:resolve:claude-sonnet"]),
            ("gpt-4o", ["global_model:name:gpt-4o"]),
            ("克劳德", ["global_model:resolve:克劳德"]),
            ("nothing-cached", []),
            ("sonnet*", []),                       # no glob
        ]
        n = 0
        for name, keys in cases:
            doc, _ = self.clear_json(["mapping", name])
            self.assert_ref_doc(doc, {"status": "ok", "message": "已清除模型 %s 的映射缓存" % name,
                                      "model_name": name, "deleted_keys": keys})
            self.assert_gone_exactly(keys, name)
            self.before = self.dump()
            if keys:
                self.assert_audited(n, "mapping", len(keys), [name])
            n = len(self.audit_lines())

    def test_clear_mapping_long_name_exact(self):
        """A name longer than any fixed buffer (clients of the gateway choose
        them): the key of that very name goes, never a shortened one."""
        name = "A" * 1100
        whole = "global_model:resolve:" + name
        shorter = "global_model:resolve:" + name[:1002]
        for k in (whole, shorter):
            self.ctx.r.execute("SETEX", k, 600, '{"global_model_id": "g"}')
        self.before = self.dump()
        doc, _ = self.clear_json(["mapping", name])
        self.assertEqual(doc["deleted_keys"], [whole])
        self.assertEqual(doc["message"], "已清除模型 %s 的映射缓存" % name)
        self.assertEqual(doc["model_name"], name)
        self.assert_gone_exactly([whole])

    def test_clear_provider_mapping(self):
        pg, hits = fixture.PG, fixture.PGH
        cases = [
            (P_ANT, G_SONNET, [pg + "%s:%s" % (P_ANT, G_SONNET), hits + "%s:%s" % (P_ANT, G_SONNET)]),
            (P_OAI, G_SONNET, [pg + "%s:%s" % (P_OAI, G_SONNET)]),
            (P_OAI, "no-such-model", []),
        ]
        for p, g, keys in cases:
            doc, _ = self.clear_json(["provider-mapping", p, g])
            self.assert_ref_doc(doc, {"status": "ok", "message": "已清除 Provider 模型映射缓存",
                                      "provider_id": p, "global_model_id": g, "deleted_keys": keys})
            self.assert_gone_exactly(keys, "%s/%s" % (p, g))
            self.before = self.dump()

    # ---------------------------------------------------------- confirmation

    ALL_CLEARS = [
        ["user", "alice"], ["user", K_MAIN], ["affinity", K_MAIN, E_ANT_CLAUDE, G_SONNET, "CLAUDE"],
        ["all"], ["provider", P_ANT], ["mappings"], ["mapping", "sonnet"],
        ["provider-mapping", P_ANT, G_SONNET],
    ]

    def test_unconfirmed_without_terminal_is_refused(self):
        for args in self.ALL_CLEARS:
            for stdin in ("", "yes\n"):
                for json_flag in ([], ["--json"]):
                    rc, out, err = self.run_at(["clear"] + args + json_flag, input=stdin, expect_rc=4)
                    self.assertIn("--yes", err, args)
                    self.assert_nothing_deleted(" ".join(args))

    def test_terminal_confirmation(self):
        rc, out, err, n = self.run_tty(["clear", "user", "alice"], "no")
        self.assertEqual(rc, 4, err)
        self.assertEqual(n, 5)
        self.assert_nothing_deleted("answered no")
        rc, out, err, n = self.run_tty(["clear", "user", "alice"], "YES please")
        self.assertEqual(rc, 4, err)
        self.assert_nothing_deleted("answered something else")
        ids = self.fx.user_key_ids(U_ALICE)
        rc, out, err, n = self.run_tty(["clear", "user", "alice"], "yes")
        self.assertEqual(rc, 0, err)
        self.assert_gone_exactly(self.keys_of(lambda a: a["affinity_key"] in ids))
        self.assertEqual(len(self.audit_lines()), 1)

    def test_read_only_flag_and_environment(self):
        for args in self.ALL_CLEARS:
            rc, out, err = self.run_at(["--read-only", "clear"] + args + ["--yes"], expect_rc=4)
            self.assertTrue(err.strip())
            rc, out, err = self.run_at(["clear"] + args + ["--yes", "--json"],
                                       env={"AETHERTOP_READ_ONLY": "1"}, expect_rc=4)
            self.assert_nothing_deleted(" ".join(args))
        self.assertEqual(self.audit_lines(), [])
        # read commands still work in read-only mode
        self.run_at(["--read-only", "list", "--json"])

    # ------------------------------------------------------------ audit log

    def test_audit_log_one_line_per_clear(self):
        runs = [(["provider", P_GHOST], 1), (["user", K_MAIN], 2), (["mapping", "sonnet"], 2),
                (["provider-mapping", P_ANT, G_SONNET], 2), (["all"], None), (["mappings"], None)]
        for i, (args, count) in enumerate(runs):
            before = len(self.audit_lines())
            doc, _ = self.clear_json(args)
            lines = self.audit_lines()
            self.assertEqual(len(lines), before + 1, args)
            rec = lines[-1]
            self.assertEqual(rec["outcome"], "done")
            self.assertIsInstance(rec["args"], list)
            self.assertIsInstance(rec["operation"], str)
            if count is not None:
                self.assertEqual(rec["count"], count, args)
            else:
                self.assertEqual(rec["count"], doc.get("count", doc.get("deleted_count")))
            for a in args[1:]:
                self.assertIn(a, json.dumps(rec, ensure_ascii=False))
        ops = [r["operation"] for r in self.audit_lines()]
        self.assertEqual(len(set(ops)), len(ops), "each kind of clear has its own operation name: %s" % ops)

    def test_audit_log_started_before_outcome(self):
        """Each clear writes its line of intent before deleting, then its
        outcome, both with one id (harness.audit_records checks the pairing)."""
        self.clear_json(["user", K_MAIN])
        with open(self.audit_path, encoding="utf-8") as f:
            raw = [json.loads(line) for line in f]
        self.assertEqual([r["outcome"] for r in raw], ["started", "done"])
        self.assertEqual(raw[0]["id"], raw[1]["id"])
        self.assertEqual((raw[0]["count"], raw[1]["count"]), (0, 3))

    def test_audit_line_reaches_the_log_in_one_write(self):
        """Clears run by two people at once append to one log. O_APPEND keeps
        one write() whole, but stdio splits a line longer than its buffer
        (a long name, a user with many API keys) into several, between which
        another process's line can land: each line must be one write."""
        harness.need_tools("strace")
        strace = shutil.which("strace")
        name = "m" * 20000
        trace = os.path.join(self.tmp, "trace")
        argv = [strace, "-f", "-qq", "-P", self.audit_path, "-e", "trace=write", "-o", trace,
                harness.AETHERTOP, "clear", "mapping", name, "--yes", "--json"]
        # LeakSanitizer cannot run under ptrace
        proc = subprocess.run(argv, env=self.ctx.env(self.env({"ASAN_OPTIONS": "detect_leaks=0"})),
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(trace) as f:
            writes = [line for line in f if "write(" in line]
        self.assertEqual(len(self.audit_lines()), 1)
        self.assertEqual(len(writes), 2, "one write per line (started, done): %s"
                         % [w[:80] for w in writes])

    def test_audit_log_to_dev_null(self):
        """A special file takes the lines (fsync has nothing to sync there)."""
        rc, out, err = self.run_at(["clear", "user", K_MAIN, "--yes", "--audit-log", "/dev/null"])
        self.assert_gone_exactly(self.keys_of(lambda a: a["affinity_key"] == K_MAIN))

    def test_audit_log_full_disk_refuses(self):
        """The log opens but its first line cannot be written (a full disk):
        nothing is deleted, and the message says so."""
        for args in self.ALL_CLEARS:
            rc, out, err = self.run_at(["clear"] + args + ["--yes", "--audit-log", "/dev/full"], expect_rc=4)
            self.assertIn("writing the audit log /dev/full failed", err, args)
            self.assertIn("nothing was deleted", err, args)
            self.assert_nothing_deleted("audit log on a full disk: %s" % args)

    def test_audit_log_unwritable_refuses(self):
        blocker = os.path.join(self.tmp, "a-regular-file")
        with open(blocker, "w") as f:
            f.write("x")
        for args in self.ALL_CLEARS:
            rc, out, err = self.run_at(["clear"] + args + ["--yes"],
                                       env={"XDG_STATE_HOME": os.path.join(blocker, "state")},
                                       expect_rc=4)
            self.assertIn("audit", err.lower(), args)
            self.assert_nothing_deleted("audit log unwritable: %s" % args)
        rc, out, err = self.run_at(["clear", "all", "--yes", "--audit-log", self.tmp], expect_rc=4)
        self.assert_nothing_deleted("audit log is a directory")


if __name__ == "__main__":
    harness.main()
