"""Hostile data (issue 5): PostgreSQL rows and Redis values written by
someone who wants to break, hang or hijack the on-call engineer's terminal.

Every command (human and --json) runs against:
  * PostgreSQL rows whose user names, e-mails, API key names, provider names,
    endpoint URLs, provider key names and model names hold terminal escape
    sequences (ESC ] 52 clipboard writes, ESC [ 2J, BEL, backspace, CR, DEL,
    C1 CSI), right-to-left overrides, tabs and newlines;
  * stored secrets whose plaintext holds escape sequences, and secrets that do
    not decrypt (garbage, bad HMAC, another key, empty, not UTF-8);
  * Redis affinity values that are not JSON, not objects, have missing fields,
    nulls, wrong types, 1 MiB of data, huge or infinite numbers; keys with too
    few or too many ':' parts, invalid UTF-8, right-to-left overrides, escape
    sequences, 10,000-character parts; affinities whose API key or provider
    rows are gone; model-mapping values of the same kinds.

Asserted for every command: no crash and no sanitizer report, no hang (each
run is bounded), no raw control byte (C0 except \\n and \\t, DEL, C1, bidi
controls) on stdout or stderr, output is UTF-8, --json output parses and
carries the hostile text escaped (\\u001b...) but intact, no secret plaintext
anywhere (output or audit log), bad records are skipped and counted by reason
("N unreadable affinities skipped" on stderr, stats --json counts).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time

import extra_servers as xs
import harness

ESC, BEL, BS, CR, DEL = "\x1b", "\x07", "\x08", "\r", "\x7f"
OSC52 = ESC + "]52;c;aGFja2Vk" + BEL          # "hacked" into the clipboard
CLS = ESC + "[2J"
CSI8 = "\u009b"                                 # 8-bit CSI (C1)
RLO = "\u202e"
MIB = 1 << 20


# ----------------------------------------------------------------- secrets

def fernet_encrypt(plaintext, key=None, iv=None):
    """The gateway's stored form: base64url(Fernet token). AES-128-CBC via the
    openssl command (the Python standard library has no AES)."""
    key = key or harness.fernet_key()
    iv = iv or os.urandom(16)
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    proc = subprocess.run(["openssl", "enc", "-aes-128-cbc", "-K", key[16:].hex(), "-iv", iv.hex()],
                          input=plaintext, capture_output=True, timeout=30)
    if proc.returncode != 0:
        raise AssertionError("openssl enc failed: %r" % proc.stderr)
    data = b"\x80" + int(time.time()).to_bytes(8, "big") + iv + proc.stdout
    token = data + hmac.new(key[:16], data, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(base64.urlsafe_b64encode(token)).decode()


def tamper(stored):
    raw = bytearray(base64.urlsafe_b64decode(base64.urlsafe_b64decode(stored)))
    raw[30] ^= 0x01
    return base64.urlsafe_b64encode(base64.urlsafe_b64encode(bytes(raw))).decode()


def mask(plain):
    """The reference's mask_api_key on code points."""
    if len(plain) > 12:
        return plain[:8] + "********" + plain[-4:]
    return plain[:8] + "********"


SECRET_ESC = "sk-" + CLS + OSC52 + "-hostile-plaintext-0001"
SECRET_PK = "pk-" + OSC52 + "provider-secret-XYZ0"
SECRET_PLAIN = "sk-live-normalsecret-ABCD"
SECRET_BADUTF8 = b"\xff\xfe-secret-bytes-but-not-utf8-1234"
SECRET_OTHERKEY = "sk-encrypted-under-another-key-9999"
SECRET_TAMPERED = "sk-tampered-hmac-secret-5555"
# substrings that must never appear anywhere (the part a mask hides)
SECRET_MARKERS = ("hostile-plaintext", "provider-secret", "normalsecret", "secret-bytes",
                  "under-another-key", "tampered-hmac", "aGFja2Vk" + BEL + "provider")


# ----------------------------------------------------------------- PostgreSQL rows

USERS = [
    ("h-u-osc", OSC52 + "mallory", "m" + CLS + "@example.com"),
    ("h-u-bel", "bell" + BEL + BS * 3 + "x", "cr" + CR + "line@example.com"),
    ("h-u-rtl", "admin" + RLO + "txt.exe", "rtl@example.com"),
    ("h-u-c1", "c1" + CSI8 + "31mred" + DEL, "c1@example.com"),
    ("h-u-nl", "multi\nline\tname", "nl\n@example.com"),
]

API_KEYS = [
    # id, user, name, stored secret, expected masked (None: does not decrypt)
    ("h-k-1", "h-u-osc", "key" + OSC52, "ESC", mask(SECRET_ESC)),
    ("h-k-2", "h-u-bel", "bs" + BS * 5 + "name", "not-a-token!!", None),
    ("h-k-3", "h-u-rtl", RLO + "yek", "TAMPERED", None),
    ("h-k-4", "h-u-c1", CSI8 + "2J", "OTHERKEY", None),
    ("h-k-5", "h-u-nl", None, "", None),
    ("h-k-6", "h-u-osc", "not utf8 secret", "BADUTF8", None),
    ("h-k-7", "h-u-osc", "plain", "PLAIN", mask(SECRET_PLAIN)),
]

PROVIDERS = [("h-p-1", "esc" + CLS, OSC52 + "Provider"), ("h-p-2", "rtl" + RLO + "name", "")]
ENDPOINTS = [("h-e-1", "h-p-1", "CLAUDE" + BEL, "https://x.example/" + CLS + OSC52),
             ("h-e-2", "h-p-2", "OPENAI", "https://y.example/" + RLO)]
PROVIDER_KEYS = [("h-pk-1", "h-e-1", "pk" + BEL + BS, "PK", mask(SECRET_PK)),
                 ("h-pk-2", "h-e-2", "pk2" + CSI8, "AAAA", None)]
GLOBAL_MODELS = [("h-g-1", "gm" + CLS, RLO + "ledom"), ("h-g-2", "gm-two", "Two" + OSC52)]
MODELS = [("h-m-1", "h-p-1", "h-g-1", "pmn" + OSC52, [{"name": "alias" + BEL}, {"name": CLS}, 5, None])]


def stored_secret(tag):
    return {"ESC": lambda: fernet_encrypt(SECRET_ESC), "PK": lambda: fernet_encrypt(SECRET_PK),
            "PLAIN": lambda: fernet_encrypt(SECRET_PLAIN),
            "BADUTF8": lambda: fernet_encrypt(SECRET_BADUTF8),
            "OTHERKEY": lambda: fernet_encrypt(SECRET_OTHERKEY, key=harness.fernet_key("another-key")),
            "TAMPERED": lambda: tamper(fernet_encrypt(SECRET_TAMPERED))}.get(tag, lambda: tag)()


def pg_sql():
    L = harness.sql_literal
    out = ["BEGIN;"]
    for uid, name, email in USERS:
        out.append("INSERT INTO users (id, username, email, password_hash) VALUES (%s, %s, %s, 'x');"
                   % (L(uid), L(name), L(email)))
    for kid, uid, name, secret, _ in API_KEYS:
        out.append("INSERT INTO api_keys (id, user_id, key_hash, key_encrypted, name) VALUES "
                   "(%s, %s, %s, %s, %s);" % (L(kid), L(uid), L(kid), L(stored_secret(secret)), L(name)))
    for pid, name, disp in PROVIDERS:
        out.append("INSERT INTO providers (id, name, display_name) VALUES (%s, %s, %s);"
                   % (L(pid), L(name), L(disp)))
    for eid, pid, fmt, url in ENDPOINTS:
        out.append("INSERT INTO provider_endpoints (id, provider_id, api_format, base_url) VALUES "
                   "(%s, %s, %s, %s);" % (L(eid), L(pid), L(fmt), L(url)))
    for kid, eid, name, secret, _ in PROVIDER_KEYS:
        out.append("INSERT INTO provider_api_keys (id, endpoint_id, api_key, name) VALUES "
                   "(%s, %s, %s, %s);" % (L(kid), L(eid), L(stored_secret(secret)), L(name)))
    for gid, name, disp in GLOBAL_MODELS:
        out.append("INSERT INTO global_models (id, name, display_name, default_tiered_pricing) "
                   "VALUES (%s, %s, %s, '{}');" % (L(gid), L(name), L(disp)))
    for mid, pid, gid, pmn, maps in MODELS:
        out.append("INSERT INTO models (id, provider_id, global_model_id, provider_model_name, "
                   "provider_model_mappings) VALUES (%s, %s, %s, %s, %s::jsonb);"
                   % (L(mid), L(pid), L(gid), L(pmn), L(json.dumps(maps))))
    out.append("COMMIT;")
    return "\n".join(out)


# ----------------------------------------------------------------- Redis records

def _b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def good(akey_ok=True, **fields):
    now = time.time()
    v = {"provider_id": "h-p-1", "endpoint_id": "h-e-1", "key_id": "h-pk-1", "api_format": "CLAUDE",
         "model_name": "h-g-1", "created_at": now - 30, "expire_at": now + 600, "request_count": 3}
    v.update(fields)
    return json.dumps(v)


def records():
    """(redis key, value, expected reason) — "ok" for readable records."""
    P = "cache_affinity:"
    A = 10000
    recs = [
        # readable, enriched with hostile PostgreSQL rows
        (P + "h-k-1:CLAUDE:h-g-1", good(), "ok"),
        (P + "h-k-2:OPENAI:h-g-2", good(provider_id="h-p-2", endpoint_id="h-e-2", key_id="h-pk-2",
                                        model_name="h-g-2"), "ok"),
        (P + "h-k-3:CLAUDE:h-g-1", good(), "ok"),
        (P + "h-k-4:CLAUDE:h-g-1", good(), "ok"),
        (P + "h-k-5:CLAUDE:h-g-1", good(), "ok"),
        (P + "h-k-6:CLAUDE:h-g-1", good(), "ok"),
        (P + "h-k-7:CLAUDE:h-g-1", good(), "ok"),
        # rows that are gone: API key, provider, endpoint, provider key, model
        (P + "h-k-ghost:CLAUDE:h-g-ghost", good(provider_id="h-p-ghost", endpoint_id="h-e-ghost",
                                                 key_id="h-pk-ghost", model_name="h-g-ghost"), "ok"),
        # escape sequences, RTL in key parts and in JSON fields
        (P + "k" + OSC52 + ":CLAUDE" + BEL + ":" + CLS + "model", "{}", "ok"),
        (P + "key" + RLO + "x:CLAUDE:m", good(provider_id="p" + RLO, model_name="m" + RLO), "ok"),
        (P + "h-k-esc:CLAUDE:m", good(provider_id=CLS, endpoint_id=BEL, key_id=CSI8 + "31m",
                                      api_format=OSC52, model_name=RLO + "\u2066x\u2069", request_count=1), "ok"),
        # 10,000-character names
        (P + "A" * A + ":" + "F" * A + ":" + "M" * A, "{}", "ok"),
        (P + "h-k-long:CLAUDE:m", good(model_name="N" * A, provider_id="P" * A), "ok"),
        # too few / too many ':' parts, missing fields, nulls
        (P + "onlykey", "{}", "ok"),
        (P + "h-k-15:CLAUDE:model:extra:parts", good(), "ok"),
        (P + "h-k-null:CLAUDE:m", json.dumps({f: None for f in ("provider_id", "endpoint_id", "key_id",
                                                              "api_format", "model_name", "created_at",
                                                              "expire_at", "request_count")}), "ok"),
        (P + "h-k-empty:CLAUDE:m", "{}", "ok"),
        # affinity_key comes from the key name only (a field of that name is overwritten)
        (P, json.dumps({"affinity_key": "from-value"}), "bad_key"),
        # 1 MiB inside a readable value
        (P + "h-k-big:CLAUDE:m", good(padding="x" * MIB), "ok"),
        # numbers at the edges: huge counts (sums must not overflow), huge times
        (P + "h-k-n1:CLAUDE:m", good(request_count=9.2e18), "ok"),
        (P + "h-k-n2:CLAUDE:m", good(request_count=9.2e18), "ok"),
        (P + "h-k-n3:CLAUDE:m", good(request_count=-9.2e18), "ok"),
        (P + "h-k-n4:CLAUDE:m", good(request_count=1e300), "ok"),
        (P + "h-k-n5:CLAUDE:m", good(expire_at=1e300, created_at=-1e300), "ok"),
        (P + "h-k-n6:CLAUDE:m", good(expire_at=-1e300, created_at=1e300), "ok"),
        (P + "h-k-n7:CLAUDE:m", good(request_count=2.5, created_at=0), "ok"),
        # not JSON
        (P + "h-k-nj1:CLAUDE:m", "garbage{", "not_json"),
        (P + "h-k-nj2:CLAUDE:m", "", "not_json"),
        (P + "h-k-nj3:CLAUDE:m", CLS + OSC52 + "not json", "not_json"),
        (P + "h-k-nj4:CLAUDE:m", "NaN", "not_json"),
        (P + "h-k-nj5:CLAUDE:m", '{"provider_id": "p", "expire_at": NaN}', "not_json"),
        (P + "h-k-nj6:CLAUDE:m", "x" * MIB, "not_json"),
        (P + "h-k-nj7:CLAUDE:m", '{"provider_id": "\\ud800"}', "not_json"),
        (P + "h-k-nj8:CLAUDE:m", '{"provider_id": "p", "expire_at": 1e400}', "not_json"),
        (P + "h-k-nj9:CLAUDE:m", '{"provider_id": ' * 5000, "not_json"),
        # JSON, not an object
        (P + "h-k-no1:CLAUDE:m", "[1, 2]", "not_object"),
        (P + "h-k-no2:CLAUDE:m", '"a string"', "not_object"),
        (P + "h-k-no3:CLAUDE:m", "42", "not_object"),
        (P + "h-k-no4:CLAUDE:m", "null", "not_object"),
        (P + "h-k-nj10:CLAUDE:m", "[" * 2000 + "]" * 2000, "not_json"),   # nested too deep
        # not UTF-8 (key or value)
        (_b(P) + b"\xff\xfe:CLAUDE:m", "{}", "bad_utf8"),
        (P + "h-k-u1:CLAUDE:m", b'{"provider_id": "\xc0\xaf"}', "bad_utf8"),
        (P + "h-k-u2:CLAUDE:m", b'{"provider_id": "\xed\xa0\x80"}', "bad_utf8"),
        (P + "h-k-u3:CLAUDE:m", b'{"provider_id": "\x80\x1b[2J"}', "bad_utf8"),
        (P + "h-k-u4:CLAUDE:m", b"\xff" * 1000, "bad_utf8"),
        # wrong types
        (P + "h-k-wt1:CLAUDE:m", good(provider_id=12345), "wrong_type"),
        # echoed by the reference whatever their type: shown as they are
        (P + "h-k-wt2:CLAUDE:m", good(created_at="yesterday" + CLS), "ok"),
        (P + "h-k-wt3:CLAUDE:m", good(request_count="5"), "ok"),
        (P + "h-k-wt9:CLAUDE:m", good(expire_at="soon"), "wrong_type"),   # cannot be sorted
        (P + "h-k-wt4:CLAUDE:m", good(endpoint_id={"x": 1}), "wrong_type"),
        (P + "h-k-wt5:CLAUDE:m", good(key_id=[CLS]), "wrong_type"),
        (P + "h-k-wt6:CLAUDE:m", good(affinity_key=5), "ok"),
        (P + "h-k-wt7:CLAUDE:m", good(api_format=True), "wrong_type"),
        (P + "h-k-wt8:CLAUDE:m", good(model_name=1.5), "wrong_type"),
        # no affinity key
        (P + ":CLAUDE:m", "{}", "bad_key"),
        (P + ":", "{}", "bad_key"),
        (P + "h-k-bk:CLAUDE:m", json.dumps({"affinity_key": ""}), "ok"),
        (P + "h-k-bk2:CLAUDE:m", json.dumps({"affinity_key": None}), "ok"),
        (P + "h-k-bk3:CLAUDE:m", json.dumps({"affinity_key": "h-k-1"}), "ok"),
    ]
    return [(_b(k), _b(v), r) for k, v, r in recs]


MAPPINGS = [
    ("global_model:resolve:" + OSC52 + "alias",
     json.dumps({"id": "h-g-1", "name": "gm" + CLS, "display_name": RLO + "x"}), 300),
    ("global_model:resolve:" + "R" * 10000, "NOT_FOUND", 300),
    ("global_model:resolve:bad" + BEL, b"\xff\xfe", 300),
    ("global_model:resolve:wrongtypes", json.dumps({"id": 5, "name": ["x"], "display_name": {}}), 300),
    ("global_model:resolve:big", "y" * MIB, 300),
    ("global_model:resolve:arr" + CSI8, json.dumps([CLS]), 300),
    ("global_model:resolve:deep", "[" * 3000 + "]" * 3000, 300),
    ("global_model:name:" + CLS, json.dumps({"id": "h-g-1"}), 300),
    ("model:provider_global:h-p-1:h-g-1",
     json.dumps({"provider_model_name": "pmn" + OSC52,
                 "provider_model_mappings": [{"name": "alias" + BEL}, 5, None, {"name": 7}, {"name": CLS}]}), 300),
    ("model:provider_global:hits:h-p-1:h-g-1", "12", None),
    ("model:provider_global:h-p-1:" + CLS, "not json" + BEL, 300),
    ("model:provider_global:h-p-2:h-g-2", json.dumps({"provider_model_name": ["x"],
                                                      "provider_model_mappings": "nope"}), 300),
    ("model:provider_global:hits:h-p-2:h-g-2", BEL + "12", None),
    ("model:id:" + CLS, b"\xff", 300),
]


def expected_reasons():
    out = {}
    for _k, _v, r in records():
        if r != "ok":
            out[r] = out.get(r, 0) + 1
    return out


def all_strings(doc):
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from all_strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from all_strings(v)


class HostileTest(harness.IntegrationTest):
    REDIS_DB = 11

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not xs.OPENSSL:
            raise AssertionError("the openssl command is needed to encrypt test secrets")
        cls.ctx.psql(pg_sql())

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="at-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.audit = os.path.join(self.tmp, "audit.log")
        self.load_redis()

    def load_redis(self):
        self.ctx.flushdb()
        cmds = [("SETEX", k, 3600, v) for k, v, _ in records()]
        for k, v, ttl in MAPPINGS:
            cmds.append(("SETEX", k, ttl, v) if ttl else ("SET", k, v))
        for reply in self.ctx.r.pipeline(cmds):
            if isinstance(reply, harness.RedisError):
                raise reply

    # ------------------------------------------------------------ running

    def run_at(self, args, expect_rc=0, timeout=90):
        """Run with bytes argv; check the streams; return (rc, out str, err str)."""
        argv = [harness.AETHERTOP] + [a if isinstance(a, bytes) else str(a) for a in args]
        argv += ["--audit-log", self.audit]
        rc, out, err = harness.run(argv, env=self.ctx.env(), timeout=timeout, binary=True)
        what = [a if isinstance(a, str) else repr(a) for a in args]
        xs.assert_clean(self, what, out, err)
        out_s, err_s = out.decode(), err.decode()
        self.assert_no_secret(what, out_s + err_s)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "aethertop %r: stderr %s" % (what, err_s[-2000:]))
        return rc, out_s, err_s

    def run_json(self, args, expect_rc=0):
        rc, out, err = self.run_at(list(args) + ["--json"], expect_rc=expect_rc)
        try:
            doc = json.loads(out)
        except ValueError as e:
            self.fail("%s --json printed invalid JSON (%s): %r" % (args, e, out[:500]))
        self.assert_no_secret(args, "\n".join(all_strings(doc)))
        return doc, err

    def assert_no_secret(self, what, text):
        for plain in (SECRET_ESC, SECRET_PK, SECRET_PLAIN, SECRET_OTHERKEY, SECRET_TAMPERED):
            self.assertNotIn(plain, text, "secret plaintext in the output of %s" % (what,))
        for m in SECRET_MARKERS:
            self.assertNotIn(m, text, "part of a secret in the output of %s" % (what,))

    def assert_skipped_message(self, err):
        n = sum(expected_reasons().values())
        self.assertIn("%d unreadable affinities skipped" % n, err)

    def items_by_key(self, doc):
        return {i["affinity_key"]: i for i in doc["data"]["items"]}

    # ------------------------------------------------------------ read commands

    def test_list_human(self):
        rc, out, err = self.run_at(["list", "--limit", "1000"])
        self.assert_skipped_message(err)
        n_ok = sum(1 for _k, _v, r in records() if r == "ok")
        self.assertIn("of %d" % n_ok, out)
        # the hostile text is shown, made visible instead of obeyed
        self.assertIn("\u241b]52;c;aGFja2Vk\u2407", out)   # ESC and BEL as control pictures
        self.assertIn("\u241b[2J", out)
        self.assertIn("h-k-ghost", out)                     # API key row gone: raw id
        # every row is one line: no newline from data splits a row
        lines = out.rstrip("\n").split("\n")
        self.assertEqual(len(lines), n_ok + 2, "header + one line per row + footer")

    def test_list_json(self):
        doc, err = self.run_json(["list", "--limit", "1000"])
        self.assert_skipped_message(err)
        items = self.items_by_key(doc)
        n_ok = sum(1 for _k, _v, r in records() if r == "ok")
        self.assertEqual(doc["data"]["meta"]["total"], n_ok)
        self.assertEqual(len(items), n_ok, "every readable record listed once")
        a = items["h-k-1"]
        self.assertEqual(a["username"], OSC52 + "mallory")   # intact, only escaped in the text
        self.assertEqual(a["email"], "m" + CLS + "@example.com")
        self.assertEqual(a["user_api_key_name"], "key" + OSC52)
        self.assertEqual(a["user_api_key_prefix"], mask(SECRET_ESC))
        self.assertEqual(a["provider_name"], OSC52 + "Provider")
        self.assertEqual(a["endpoint_url"], "https://x.example/" + CLS + OSC52)
        self.assertEqual(a["key_name"], "pk" + BEL + BS)
        self.assertEqual(a["key_prefix"], mask(SECRET_PK))
        self.assertEqual(a["model_name"], "gm" + CLS)
        self.assertEqual(a["model_display_name"], RLO + "ledom")
        # secrets that do not decrypt are absent (null), never an error
        for k in ("h-k-2", "h-k-3", "h-k-4", "h-k-5", "h-k-6"):
            self.assertIsNone(items[k]["user_api_key_prefix"], k)
        self.assertEqual(items["h-k-7"]["user_api_key_prefix"], mask(SECRET_PLAIN))
        self.assertIsNone(items["h-k-2"]["key_prefix"])
        # rows that are gone: raw ids, nulls
        g = items["h-k-ghost"]
        self.assertIsNone(g["username"])
        self.assertIsNone(g["provider_name"])
        self.assertEqual(g["provider_id"], "h-p-ghost")
        self.assertEqual(g["model_name"], "h-g-ghost")
        # hostile key parts and fields survive as data
        self.assertIn("k" + OSC52, items)
        self.assertEqual(items["k" + OSC52]["api_format"], "CLAUDE" + BEL)
        self.assertEqual(items["h-k-esc"]["provider_id"], CLS)
        self.assertEqual(items["h-k-esc"]["api_format"], OSC52)
        self.assertEqual(items["h-k-long"]["global_model_id"], "N" * 10000)
        self.assertIn("A" * 10000, items)
        self.assertEqual(items["A" * 10000]["api_format"], "F" * 10000)
        self.assertEqual(items["onlykey"]["api_format"], "unknown")
        # the value's affinity_key field is ignored, as the gateway's list_affinities does
        self.assertNotIn("from-value", items)
        for k in ("h-k-wt6", "h-k-bk", "h-k-bk2", "h-k-bk3"):
            self.assertEqual(items[k]["affinity_key"], k)
        # request_count as the value holds it (the reference's affinity.get("request_count", 0))
        self.assertEqual(items["h-k-n1"]["request_count"], 9.2e18)
        self.assertEqual(items["h-k-n3"]["request_count"], -9.2e18)
        self.assertEqual(items["h-k-n4"]["request_count"], 1e300)
        self.assertEqual(items["h-k-n7"]["request_count"], 2.5)
        self.assertIsNone(items["h-k-null"]["request_count"])
        self.assertEqual(items["h-k-wt2"]["created_at"], "yesterday" + CLS)
        self.assertEqual(items["h-k-wt3"]["request_count"], "5")
        self.assertEqual(items["h-k-empty"]["request_count"], 0)
        self.assertEqual(items["h-k-n5"]["expire_at"], 1e300)

    def test_list_json_raw_text_is_escaped(self):
        rc, out, err = self.run_at(["list", "--json", "--limit", "1000"])
        self.assertIn("\\u001b]52;c;aGFja2Vk\\u0007", out)
        self.assertIn("\\u202e", out)
        self.assertIn("\\u009b", out)

    def test_stats_counts_unreadable(self):
        doc, err = self.run_json(["stats"])
        d = doc["data"]
        self.assert_skipped_message(err)
        self.assertEqual(d["unreadable_skipped"], sum(expected_reasons().values()))
        self.assertEqual(d["unreadable_by_reason"], expected_reasons())
        n_ok = sum(1 for _k, _v, r in records() if r == "ok")
        self.assertEqual(d["total_affinity_keys"], n_ok)
        # absurd counts are clamped per record and summed without overflow
        # (a sum past 15 digits may print in exponent form: still a JSON number)
        self.assertIsInstance(d["total_requests"], (int, float))
        self.assertLess(abs(d["total_requests"]), 1e17)
        self.assertTrue(d["postgres"]["available"])
        rc, out, err = self.run_at(["stats"])
        self.assert_skipped_message(err)
        self.assertIn("unreadable %d" % sum(expected_reasons().values()), out)
        rc, out, err = self.run_at(["metrics"])
        self.assertIn("aethertop_affinity_unreadable %d" % sum(expected_reasons().values()), out)

    def test_keyword_searches(self):
        # a hostile user name as keyword resolves the user
        doc, err = self.run_json(["list", OSC52 + "mallory"])
        self.assertEqual(doc["data"]["matched_user_id"], "h-u-osc")
        self.assertEqual(sorted(self.items_by_key(doc)), ["h-k-1", "h-k-6", "h-k-7"])
        self.run_at(["list", OSC52 + "mallory"])
        # substring searches with control characters and RTL
        for kw in (ESC, CLS, RLO, BEL, "\u241b", "x" * 5000):
            self.run_json(["list", kw])
            self.run_at(["list", kw])
        # a keyword that is not UTF-8: PostgreSQL refuses it, a clean error
        rc, out, err = self.run_at(["list", b"\xff\xfe" + ESC.encode() + b"[2J"], expect_rc=None)
        self.assertIn(rc, (0, 3), err)

    def test_affinity_of_hostile_users(self):
        for uid, name, email in USERS:
            doc, err = self.run_json(["affinity", name])
            self.assertEqual(doc["user_info"]["username"], name)
            self.assertEqual(doc["user_info"]["email"], email)
            self.assertEqual(doc["total_endpoints"], len(doc["affinities"]))
            self.run_at(["affinity", uid])
        # not found: the identifier is echoed harmlessly (exit 1)
        doc, err = self.run_json(["affinity", CLS + "nobody" + OSC52], expect_rc=1)
        self.assertIn(CLS + "nobody", doc["detail"])
        rc, out, err = self.run_at(["affinity", CLS + "nobody" + OSC52], expect_rc=1)
        self.assertIn("\u241b[2Jnobody", err)

    def test_hostile_user_id_in_human_output(self):
        """users.id is printed by `affinity USER` ("id ...") and `list USER`
        ("· user ..."); one holding escape sequences is shown as symbols."""
        L = harness.sql_literal
        uid, name = "h-u-" + OSC52 + CLS + "id", "hostile-id-user"
        self.ctx.psql("INSERT INTO users (id, username, email, password_hash) VALUES (%s, %s, %s, 'x');"
                      "INSERT INTO api_keys (id, user_id, key_hash, key_encrypted, name) VALUES "
                      "('h-k-id', %s, 'h-k-id', '', 'id key');" % (L(uid), L(name), L("id@example.com"), L(uid)))
        self.addCleanup(self.ctx.psql, "DELETE FROM api_keys WHERE id = 'h-k-id'; DELETE FROM users WHERE id = %s;"
                        % L(uid))
        self.ctx.redis("SETEX", "cache_affinity:h-k-id:CLAUDE:h-g-1", 3600, good())
        rc, out, err = self.run_at(["affinity", name])
        self.assertIn("id h-u-\u241b]52;c;aGFja2Vk\u2407\u241b[2Jid", out)
        rc, out, err = self.run_at(["list", name])
        self.assertIn("user h-u-\u241b]52;c;aGFja2Vk\u2407\u241b[2Jid", out)

    def test_mappings(self):
        doc, err = self.run_json(["mappings"])
        d = doc["data"]
        names = {m["mapping_name"]: m for m in d["mappings"]}
        self.assertIn(OSC52 + "alias", names)
        self.assertEqual(names[OSC52 + "alias"]["global_model_name"], "gm" + CLS)
        un = {u["mapping_name"]: u["status"] for u in d["unmapped"]}
        self.assertEqual(un["R" * 10000], "not_found")
        self.assertEqual(un["bad" + BEL], "error")
        self.assertEqual(un["big"], "invalid")
        self.assertEqual(un["arr" + CSI8], "error")
        pm = d["provider_model_mappings"]
        self.assertEqual(len(pm), 1)
        self.assertEqual(pm[0]["provider_model_name"], "pmn" + OSC52)
        self.assertEqual(pm[0]["aliases"], ["alias" + BEL, CLS])
        self.assertEqual(pm[0]["hit_count"], 12)
        rc, out, err = self.run_at(["mappings"])
        self.assertIn("\u241b]52", out)

    def test_config_and_help_unaffected(self):
        self.run_json(["config"])
        self.run_at(["--help"])

    # ------------------------------------------------------------ clears

    def audit_lines(self):
        with open(self.audit, "rb") as f:
            data = f.read()
        self.assertEqual(xs.raw_controls(data), [], "raw control bytes in the audit log")
        text = data.decode("utf-8")
        self.assert_no_secret("audit log", text)
        return harness.audit_records(text)

    def test_clears_with_hostile_arguments(self):
        doc, err = self.run_json(["clear", "provider", CLS, "--yes"])
        self.assertEqual(doc["count"], 1)
        self.assertEqual(doc["provider_id"], CLS)
        rc, out, err = self.run_at(["clear", "provider", "p" + RLO, "--yes"])
        self.assertIn("Cleared 1 ", out)
        doc, err = self.run_json(["clear", "user", OSC52 + "mallory", "--yes"])
        self.assertEqual(doc["count"], 3)
        self.assertEqual(doc["user_info"]["username"], OSC52 + "mallory")
        rc, out, err = self.run_at(["clear", "user", "h-k-2", "--yes"])
        rc, out, err = self.run_at(["clear", "affinity", "k" + OSC52, "x", CLS + "model", "CLAUDE" + BEL,
                                    "--yes"], expect_rc=1)
        doc, err = self.run_json(["clear", "mapping", OSC52 + "alias", "--yes"])
        self.assertEqual(doc["deleted_keys"], ["global_model:resolve:" + OSC52 + "alias"])
        rc, out, err = self.run_at(["clear", "mapping", "bad" + BEL, "--yes"])
        doc, err = self.run_json(["clear", "provider-mapping", "h-p-1", CLS, "--yes"])
        self.assertEqual(doc["deleted_keys"], ["model:provider_global:h-p-1:" + CLS])
        # provider h-p-1 holds most readable records; hostile ones are skipped, not fatal
        doc, err = self.run_json(["clear", "provider", "h-p-1", "--yes"])
        self.assertGreater(doc["count"], 5)
        doc, err = self.run_json(["clear", "all", "--yes"])
        self.assertEqual(self.ctx.r.keys("cache_affinity:*"), [])
        doc, err = self.run_json(["clear", "mappings", "--yes"])
        self.assertEqual(self.ctx.r.keys("model:*") + self.ctx.r.keys("global_model:*"), [])
        lines = self.audit_lines()
        self.assertEqual(len(lines), 10, "one line per clear that ran (the 404 did not)")
        self.assertEqual(lines[0]["args"], [CLS])
        self.assertEqual(lines[2]["target"], OSC52 + "mallory")

    def test_clear_user_skips_hostile_records(self):
        """Clear user reads every value to find the key's records: hostile ones
        are skipped and left alone."""
        before = set(self.ctx.r.keys("cache_affinity:*"))
        doc, err = self.run_json(["clear", "user", "h-u-bel", "--yes"])
        self.assertEqual(doc["count"], 1)
        gone = before - set(self.ctx.r.keys("cache_affinity:*"))
        self.assertEqual(gone, {b"cache_affinity:h-k-2:OPENAI:h-g-2"})


if __name__ == "__main__":
    harness.main()
