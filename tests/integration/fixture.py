"""tests/integration/fixture.py — one known, hand-made gateway state for the
command-line integration tests (test_cli_read, test_cli_clear, test_cli_config),
and a model of what the reference endpoints would answer for it.

The PostgreSQL rows have fixed ids; the encrypted columns hold the
stored_ciphertext values of ../shared/fixtures/fernet_vectors.json (keyset
`pbkdf2_dev_default`, i.e. ENCRYPTION_KEY unset), so every expected masked
value comes from that same file (`masked`), never from aethertop. Redis holds
cache affinities (good ones and hostile ones) and model-mapping cache keys with
known values and TTLs.

The `Fixture` methods named expected_* compute, from the fixture data alone,
what the gateway's cache admin endpoints (reference/000_3c3c6f2ba77ebf24) would
return — with SPEC section 5's deliberate differences applied where the spec
says aethertop must differ. Tests compare aethertop's output with them.
"""

import hashlib
import json
import os
import time

import harness

DEV_KEYSET = "pbkdf2_dev_default"
DEV_ENCRYPTION_KEY = "dev-encryption-key-do-not-use-in-production"


def uid(kind, n):
    """Fixed, readable UUID-shaped ids: kind 1 users, 2 api keys, 3 providers,
    4 endpoints, 5 provider keys, 6 global models, 7 models."""
    return "%d0000000-0000-4000-8000-%012d" % (kind, n)


def load_vectors():
    with open(os.path.join(harness.FIXTURES_DIR, "fernet_vectors.json"), encoding="utf-8") as f:
        data = json.load(f)
    cases = {}
    for ks in data["keysets"]:
        if ks["name"] == DEV_KEYSET:
            for c in ks["cases"]:
                cases[c["name"]] = {"stored": c["stored_ciphertext"], "masked": c["masked"],
                                    "plaintext": c["plaintext"]}
    for c in data["special_cases"]:
        if c["encryption_key"] in ("", DEV_ENCRYPTION_KEY):
            cases["special:" + c["name"]] = {"stored": c["stored_ciphertext"],
                                             "masked": c["masked"],
                                             "plaintext": c.get("decrypted")}
    return cases


VECTORS = load_vectors()


def secret(case):
    """(stored ciphertext, expected masked value, plaintext) of a vector."""
    if case == "":
        return "", None, None
    v = VECTORS[case]
    return v["stored"], v["masked"], v["plaintext"]


# ----------------------------------------------------------------- the data

U_ALICE, U_ZHANG, U_BOB, U_CAROL, U_MALLORY = (uid(1, i) for i in range(1, 6))
K_MAIN, K_CI, K_ZHANG, K_BOB, K_BOB_EMPTY, K_CAROL, K_MALLORY = (uid(2, i) for i in range(1, 8))
K_GHOST = uid(2, 99)              # an affinity names it; no api_keys row
P_ANT, P_OAI, P_GEM, P_AZ = (uid(3, i) for i in range(1, 5))
P_GHOST = uid(3, 99)
E_ANT_CLAUDE, E_OAI_OPENAI, E_GEM, E_OAI_CLAUDE, E_AZ = (uid(4, i) for i in range(1, 6))
E_GHOST = uid(4, 99)
PK_ANT1, PK_OAI1, PK_GEM, PK_OAI_CL, PK_ANT2, PK_AZ, PK_OAI2 = (uid(5, i) for i in range(1, 8))
PK_GHOST = uid(5, 99)
G_SONNET, G_GPT4O, G_GEMINI, G_OLD = (uid(6, i) for i in range(1, 5))
M_ANT_SONNET, M_OAI_SONNET, M_OAI_GPT, M_GEM, M_ANT_GPT_OFF, M_AZ_GPT = (uid(7, i) for i in range(1, 7))

USERS = [
    # id, username, email
    (U_ALICE, "alice", "alice@example.com"),
    (U_ZHANG, "张伟测试", "zhang.wei@example.cn"),
    (U_BOB, "bob", "bob@example.org"),
    (U_CAROL, "carol", "carol@example.net"),
    # username equal to bob's email: resolution tries username before email
    (U_MALLORY, "bob@example.org", "mallory@example.com"),
]

API_KEYS = [
    # id, user_id, name, secret case, is_standalone
    (K_MAIN, U_ALICE, "main-key", "doc_example", False),
    (K_CI, U_ALICE, "ci-runner", "openai_proj", True),
    (K_ZHANG, U_ZHANG, "张伟的钥匙", "cjk_unicode", False),
    (K_BOB, U_BOB, "bob-laptop", "special:tampered_ciphertext", False),
    (K_BOB_EMPTY, U_BOB, "bob-empty", "", False),
    (K_CAROL, U_CAROL, "carol-key", "exactly_12", False),
    (K_MALLORY, U_MALLORY, "ключ-mallory", "combining_marks", False),
]

PROVIDERS = [
    # id, name, display_name, is_active
    (P_ANT, "anthropic-main", "Anthropic Main", True),
    (P_OAI, "openai-proxy", "OpenAI Proxy", True),
    (P_GEM, "gemini-direct", "Gemini Direct", False),
    (P_AZ, "azure-east", "", True),
]

ENDPOINTS = [
    # id, provider_id, api_format, base_url
    (E_ANT_CLAUDE, P_ANT, "CLAUDE", "https://api.anthropic.example/v1"),
    (E_OAI_OPENAI, P_OAI, "OPENAI", "https://proxy.example.com/v1"),
    (E_GEM, P_GEM, "GEMINI", "https://gemini.example.com"),
    (E_OAI_CLAUDE, P_OAI, "CLAUDE", "https://proxy.example.com/claude"),
    (E_AZ, P_AZ, "OPENAI", "https://azure.example.com/openai"),
]

PROVIDER_KEYS = [
    # id, endpoint_id, name, secret case, rate_multiplier, cache_ttl_minutes
    (PK_ANT1, E_ANT_CLAUDE, "ant-key-1", "anthropic_long", 1.5, 5),
    (PK_OAI1, E_OAI_OPENAI, "oai-key-1", "gemini", 0.8, 5),
    (PK_GEM, E_GEM, "gem-key", "exactly_13", 1.0, 10),
    (PK_OAI_CL, E_OAI_CLAUDE, "claude-proxy-key", "special:wrong_key", 2.25, 5),
    (PK_ANT2, E_ANT_CLAUDE, "ant-key-2", "ascii_controls_in_key", 1.0, 5),
    (PK_AZ, E_AZ, "azure-key", "short_abc", 0.5, 5),
    (PK_OAI2, E_OAI_OPENAI, "oai-key-2", "special:lenient_junk_chars_inside", 1.25, 5),
]

GLOBAL_MODELS = [
    # id, name, display_name, is_active
    (G_SONNET, "claude-sonnet-4", "Claude Sonnet 4", True),
    (G_GPT4O, "gpt-4o", "GPT-4o", True),
    (G_GEMINI, "gemini-2.5-pro", "Gemini 2.5 Pro", True),
    (G_OLD, "old-model", "Old Model", False),
]

MODELS = [
    # id, provider_id, global_model_id, provider_model_name, provider_model_mappings, is_active
    (M_ANT_SONNET, P_ANT, G_SONNET, "claude-sonnet-4-20250514",
     [{"name": "sonnet", "priority": 1}, {"name": "claude-sonnet"}, {"name": "克劳德"}], True),
    (M_OAI_SONNET, P_OAI, G_SONNET, "claude-sonnet-4", [{"name": "sonnet"}], True),
    (M_OAI_GPT, P_OAI, G_GPT4O, "gpt-4o", None, True),
    (M_GEM, P_GEM, G_GEMINI, "gemini-2.5-pro-preview", [{"name": "gemini-pro"}], True),
    (M_ANT_GPT_OFF, P_ANT, G_GPT4O, "gpt-4o-2024-08-06", [{"name": "4o"}], False),
    (M_AZ_GPT, P_AZ, G_GPT4O, "gpt-4o-azure", [{"name": "4o"}, "junk", {"noname": 1}], True),
]

SYSTEM_CONFIGS = [("provider_priority_mode", "provider"), ("scheduling_mode", "cache_affinity")]

# Readable affinities. key parts (affinity_key, api_format, model) and the value;
# offsets are seconds relative to the load time. "value_format"/"value_model":
# what the JSON says (None: the field is absent from the JSON).
AFFINITIES = [
    # name, affinity_key, key_format, key_model, provider, endpoint, provider key,
    #   created, expire, request_count, value_format, value_model
    ("A1", K_MAIN, "CLAUDE", G_SONNET, P_ANT, E_ANT_CLAUDE, PK_ANT1, -100, 200, 5, "CLAUDE", G_SONNET),
    ("A2", K_MAIN, "OPENAI", G_GPT4O, P_OAI, E_OAI_OPENAI, PK_OAI1, -50, 90, 2, "OPENAI", G_GPT4O),
    ("A3", K_CI, "CLAUDE", G_SONNET, P_OAI, E_OAI_CLAUDE, PK_OAI_CL, -20, 280, 1, "CLAUDE", G_SONNET),
    ("A4", K_ZHANG, "CLAUDE", G_SONNET, P_ANT, E_ANT_CLAUDE, PK_ANT2, -300, 45, 12, "CLAUDE", G_SONNET),
    # the key says "claude", the value "CLAUDE_CLI": the JSON wins
    ("A5", K_ZHANG, "claude", G_SONNET, P_ANT, E_ANT_CLAUDE, PK_ANT1, -10, 15, 1, "CLAUDE_CLI", G_SONNET),
    ("A6", K_BOB, "GEMINI", G_GEMINI, P_GEM, E_GEM, PK_GEM, -60, 1000, 3, "GEMINI", G_GEMINI),
    # model_name is not a GlobalModel id: shown raw
    ("A7", K_BOB, "OPENAI", "gpt-4o-mini", P_OAI, E_OAI_OPENAI, PK_OAI1, -5, 150, 4, "OPENAI", "gpt-4o-mini"),
    # expired but still present (Redis TTL still positive)
    ("A8", K_BOB_EMPTY, "CLAUDE", G_GPT4O, P_ANT, E_ANT_CLAUDE, PK_ANT1, -400, -30, 9, "CLAUDE", G_GPT4O),
    ("A9", K_MALLORY, "OPENAI", G_GPT4O, P_AZ, E_AZ, PK_AZ, -30, 120, 6, "OPENAI", G_GPT4O),
    # the user's API key row does not exist
    ("A10", K_GHOST, "CLAUDE", G_SONNET, P_ANT, E_ANT_CLAUDE, PK_ANT1, -1, 60, 1, "CLAUDE", G_SONNET),
    # provider, endpoint and provider key rows do not exist
    ("A11", K_MAIN, "CLAUDE_CLI", G_SONNET, P_GHOST, E_GHOST, PK_GHOST, -2, 35, 1, "CLAUDE_CLI", G_SONNET),
    # the value carries no api_format / model_name: the key parts are used
    ("A12", K_CI, "openai", G_GPT4O, P_OAI, E_OAI_OPENAI, PK_OAI1, -3, 500, 2, None, None),
    # an inactive GlobalModel still names the model
    ("A13", K_MALLORY, "CLAUDE", G_OLD, P_ANT, E_ANT_CLAUDE, PK_ANT1, -7, 75, 2, "CLAUDE", G_OLD),
    ("A14", K_BOB_EMPTY, "OPENAI", G_GPT4O, P_OAI, E_OAI_OPENAI, PK_OAI2, -8, 240, 3, "OPENAI", G_GPT4O),
]

# Hostile records: every one must be skipped (and counted), never fatal.
# Most name alice's main key, so a listing that failed to skip them would show them.
HOSTILE = [
    ("not_json", "cache_affinity:%s:CLAUDE:bad-json" % K_MAIN, b"this is not JSON {"),
    ("not_object", "cache_affinity:%s:CLAUDE:bad-array" % K_MAIN, b'[1, 2, 3]'),
    ("wrong_type", "cache_affinity:%s:CLAUDE:bad-number" % K_MAIN,
     json.dumps({"provider_id": 12345, "endpoint_id": E_ANT_CLAUDE, "key_id": PK_ANT1,
                 "api_format": "CLAUDE", "model_name": G_SONNET, "created_at": 1.0,
                 "expire_at": 4102444800.0, "request_count": 1}).encode()),
    ("bad_utf8", "cache_affinity:%s:CLAUDE:bad-utf8" % K_MAIN,
     b'{"provider_id": "\xff\xfe\xfd", "endpoint_id": "e", "key_id": "k", "expire_at": 4102444800.0}'),
    # too few ':' parts (no affinity_key part) and no affinity_key in the value
    ("bad_key", "cache_affinity:",
     json.dumps({"provider_id": P_ANT, "endpoint_id": E_ANT_CLAUDE, "key_id": PK_ANT1,
                 "created_at": 1.0, "expire_at": 4102444800.0, "request_count": 1}).encode()),
    ("not_json", "cache_affinity:%s:CLAUDE:bad-nan" % K_MAIN,
     b'{"provider_id": "%s", "endpoint_id": "%s", "key_id": "%s", "created_at": NaN, '
     b'"expire_at": NaN, "request_count": 1}' % (P_ANT.encode(), E_ANT_CLAUDE.encode(),
                                                 PK_ANT1.encode())),
]

AFFINITY_REDIS_TTL_PAD = 900   # Redis TTL = max(expire offset, 0) + this: never expires mid-test

# Model-mapping cache keys: (key, value bytes/str, ttl or None for no expiry).
def _model_json(model_id):
    for m in MODELS:
        if m[0] == model_id:
            return {"id": m[0], "provider_id": m[1], "global_model_id": m[2],
                    "provider_model_name": m[3], "provider_model_mappings": m[4],
                    "is_active": m[5]}
    raise KeyError(model_id)


def _gm_json(gm_id):
    for g in GLOBAL_MODELS:
        if g[0] == gm_id:
            return {"id": g[0], "name": g[1], "display_name": g[2], "is_active": g[3]}
    raise KeyError(gm_id)


PG = "model:provider_global:"
PGH = "model:provider_global:hits:"
RES = "global_model:resolve:"

MAPPING_KEYS = [
    ("model:id:" + M_ANT_SONNET, json.dumps(_model_json(M_ANT_SONNET)), 300),
    ("model:id:" + M_OAI_GPT, json.dumps(_model_json(M_OAI_GPT)), 290),
    ("model:unrelated:1", "x", 300),                     # no family: not counted
    # provider-level entries
    (PG + "%s:%s" % (P_ANT, G_SONNET), json.dumps(_model_json(M_ANT_SONNET)), 250),
    (PGH + "%s:%s" % (P_ANT, G_SONNET), "42", None),
    (PG + "%s:%s" % (P_OAI, G_SONNET), json.dumps(_model_json(M_OAI_SONNET)), 200),
    (PG + "%s:%s" % (P_OAI, G_GPT4O), json.dumps(_model_json(M_OAI_GPT)), 240),   # no mapping
    (PGH + "%s:%s" % (P_OAI, G_GPT4O), "7", None),
    (PG + "%s:%s" % (P_ANT, G_GPT4O), json.dumps({"provider_model_name": "gpt-4o-2024-08-06",
                                                   "provider_model_mappings": None}), 150),
    (PGH + "%s:%s" % (P_ANT, G_GPT4O), "3", None),
    (PG + "%s:%s" % (P_GEM, G_GEMINI), json.dumps(_model_json(M_GEM)), 230),     # inactive provider
    (PG + "%s:%s" % (P_ANT, G_OLD), json.dumps({"provider_model_name": "old-x",
                                                 "provider_model_mappings": None}), 230),  # inactive GM
    (PG + "%s:%s" % (P_OAI, G_GEMINI), "not json", 230),                         # skipped
    (PG + "bad:key:parts", json.dumps({"provider_model_name": "x"}), 230),       # 3 parts: skipped
    (PG + "%s:%s" % (P_AZ, G_GPT4O), json.dumps(_model_json(M_AZ_GPT)), 220),
    (PGH + "%s:%s" % (P_AZ, G_GPT4O), "5", None),
    (PG + "%s:%s" % (P_AZ, G_SONNET), json.dumps({"provider_model_name": "claude-az",
                                                   "provider_model_mappings": None}), 220),
    (PGH + "%s:%s" % (P_AZ, G_SONNET), "abc", None),    # int() fails: entry skipped
    # global model entries
    ("global_model:id:" + G_SONNET, json.dumps(_gm_json(G_SONNET)), 300),
    ("global_model:id:" + G_GPT4O, json.dumps(_gm_json(G_GPT4O)), 300),
    ("global_model:name:claude-sonnet-4", json.dumps(_gm_json(G_SONNET)), 300),
    ("global_model:name:gpt-4o", json.dumps(_gm_json(G_GPT4O)), 300),
    ("global_model:name:sonnet", json.dumps(_gm_json(G_SONNET)), 300),
    ("global_model:other:1", "x", 300),                  # no family: not counted
    # resolve entries
    (RES + "sonnet", json.dumps(_gm_json(G_SONNET)), 280),
    (RES + "claude-sonnet", json.dumps(_gm_json(G_SONNET)), 270),
    (RES + "克劳德", json.dumps(_gm_json(G_SONNET)), 265),
    (RES + "claude-sonnet-4", json.dumps(_gm_json(G_SONNET)), 260),   # same name: not a mapping
    (RES + "gpt-4o-2024-08-06", json.dumps(_gm_json(G_GPT4O)), 255),
    (RES + "4o", json.dumps(_gm_json(G_GPT4O)), 250),
    (RES + "gemini-pro", json.dumps(_gm_json(G_GEMINI)), 245),
    (RES + "unknown-model", "NOT_FOUND", 120),
    (RES + "zzz-missing", "NOT_FOUND", None),            # no TTL: ttl null
    (RES + "broken", "{not json", 110),
    (RES + "aaa-array", "[1, 2]", 100),                  # JSON, not an object: error
    (RES + "bin-bytes", b"\xff\xfe\x00garbage", 100),    # not UTF-8: error
    (RES + "alias:" + RES + "nested", "NOT_FOUND", 90),  # prefix removed once (SPEC 3)
]


def _b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


class Fixture:
    """The fixture, its loader and the reference model."""

    def __init__(self):
        self.now = None
        self.users = {u[0]: {"id": u[0], "username": u[1], "email": u[2]} for u in USERS}
        self.api_keys = {}
        for k in API_KEYS:
            stored, masked, plain = secret(k[3])
            self.api_keys[k[0]] = {"id": k[0], "user_id": k[1], "name": k[2],
                                   "key_encrypted": stored, "masked": masked,
                                   "plaintext": plain, "is_standalone": k[4]}
        self.providers = {p[0]: {"id": p[0], "name": p[1], "display_name": p[2],
                                 "is_active": p[3]} for p in PROVIDERS}
        self.endpoints = {e[0]: {"id": e[0], "provider_id": e[1], "api_format": e[2],
                                 "base_url": e[3]} for e in ENDPOINTS}
        self.provider_keys = {}
        for k in PROVIDER_KEYS:
            stored, masked, plain = secret(k[3])
            self.provider_keys[k[0]] = {"id": k[0], "endpoint_id": k[1], "name": k[2],
                                        "api_key": stored, "masked": masked, "plaintext": plain,
                                        "rate_multiplier": k[4], "cache_ttl_minutes": k[5]}
        self.global_models = {g[0]: {"id": g[0], "name": g[1], "display_name": g[2],
                                     "is_active": g[3]} for g in GLOBAL_MODELS}
        self.models = [{"id": m[0], "provider_id": m[1], "global_model_id": m[2],
                        "provider_model_name": m[3], "provider_model_mappings": m[4],
                        "is_active": m[5]} for m in MODELS]

    # ------------------------------------------------------------ loading

    def sql(self):
        L = harness.sql_literal
        out = ["BEGIN;"]
        for u in USERS:
            out.append("INSERT INTO users (id, email, username, password_hash) VALUES (%s, %s, %s, 'x');"
                       % (L(u[0]), L(u[2]), L(u[1])))
        for k in self.api_keys.values():
            out.append("INSERT INTO api_keys (id, user_id, key_hash, key_encrypted, name, is_standalone) "
                       "VALUES (%s, %s, %s, %s, %s, %s);"
                       % (L(k["id"]), L(k["user_id"]), L(hashlib.sha256(k["id"].encode()).hexdigest()),
                          L(k["key_encrypted"]), L(k["name"]), L(k["is_standalone"])))
        for p in self.providers.values():
            out.append("INSERT INTO providers (id, name, display_name, is_active) VALUES (%s, %s, %s, %s);"
                       % (L(p["id"]), L(p["name"]), L(p["display_name"]), L(p["is_active"])))
        for e in self.endpoints.values():
            out.append("INSERT INTO provider_endpoints (id, provider_id, api_format, base_url) "
                       "VALUES (%s, %s, %s, %s);"
                       % (L(e["id"]), L(e["provider_id"]), L(e["api_format"]), L(e["base_url"])))
        for k in self.provider_keys.values():
            out.append("INSERT INTO provider_api_keys (id, endpoint_id, api_key, name, rate_multiplier, "
                       "cache_ttl_minutes) VALUES (%s, %s, %s, %s, %s, %s);"
                       % (L(k["id"]), L(k["endpoint_id"]), L(k["api_key"]), L(k["name"]),
                          L(k["rate_multiplier"]), L(k["cache_ttl_minutes"])))
        for g in self.global_models.values():
            out.append("INSERT INTO global_models (id, name, display_name, default_tiered_pricing, "
                       "is_active) VALUES (%s, %s, %s, '{}', %s);"
                       % (L(g["id"]), L(g["name"]), L(g["display_name"]), L(g["is_active"])))
        for m in self.models:
            mp = m["provider_model_mappings"]
            out.append("INSERT INTO models (id, provider_id, global_model_id, provider_model_name, "
                       "provider_model_mappings, is_active) VALUES (%s, %s, %s, %s, %s, %s);"
                       % (L(m["id"]), L(m["provider_id"]), L(m["global_model_id"]),
                          L(m["provider_model_name"]),
                          "NULL" if mp is None else L(json.dumps(mp)) + "::jsonb",
                          L(m["is_active"])))
        for key, value in SYSTEM_CONFIGS:
            out.append("INSERT INTO system_configs (key, value) VALUES (%s, %s::json);"
                       % (L(key), L(json.dumps(value))))
        out.append("COMMIT;")
        return "\n".join(out)

    def load_pg(self, ctx):
        ctx.psql(self.sql())

    def affinity_value(self, a):
        name, ak, kf, km, prov, endp, pkey, created, expire, count, vf, vm = a
        v = {"provider_id": prov, "endpoint_id": endp, "key_id": pkey}
        if vf is not None:
            v["api_format"] = vf
        if vm is not None:
            v["model_name"] = vm
        v["created_at"] = self.now + created
        v["expire_at"] = self.now + expire
        v["request_count"] = count
        return v

    @staticmethod
    def affinity_key(a):
        return "cache_affinity:%s:%s:%s" % (a[1], a[2], a[3])

    def redis_commands(self):
        cmds = []
        for a in AFFINITIES:
            ttl = max(a[8], 0) + AFFINITY_REDIS_TTL_PAD
            cmds.append(("SETEX", self.affinity_key(a), ttl, json.dumps(self.affinity_value(a))))
        for _reason, key, value in HOSTILE:
            cmds.append(("SETEX", key, 600, value))
        for key, value, ttl in MAPPING_KEYS:
            if ttl is None:
                cmds.append(("SET", key, _b(value)))
            else:
                cmds.append(("SETEX", key, ttl, _b(value)))
        return cmds

    def write_redis(self, conn):
        """Write every Redis key through a harness.Redis connection (now = load time)."""
        self.now = round(time.time(), 3)
        for reply in conn.pipeline(self.redis_commands()):
            if isinstance(reply, harness.RedisError):
                raise reply

    def load_redis(self, ctx):
        """FLUSHDB, then write every Redis key."""
        ctx.flushdb()
        self.write_redis(ctx.r)

    def load(self, ctx):
        self.load_pg(ctx)
        self.load_redis(ctx)

    # --------------------------------------------------------- Redis views

    def affinity_keys(self):
        """Every cache_affinity:* key the fixture writes (bytes)."""
        return sorted([_b(self.affinity_key(a)) for a in AFFINITIES] +
                      [_b(h[1]) for h in HOSTILE])

    def mapping_keys(self):
        return sorted(_b(k[0]) for k in MAPPING_KEYS)

    def all_keys(self):
        return sorted(self.affinity_keys() + self.mapping_keys())

    def snapshot(self, ctx):
        """{key: value} of the whole Redis database (bytes)."""
        keys = ctx.r.keys("*")
        return ctx.r.mget_dict(keys) if keys else {}

    # -------------------------------------------------- the reference model

    def readable(self):
        """What the reference's list_affinities yields for the readable records:
        the value's fields, api_format/model_name from the JSON when present,
        else from the key; affinity_key from the key."""
        out = []
        for a in AFFINITIES:
            v = self.affinity_value(a)
            d = dict(v)
            d["affinity_key"] = a[1]
            d.setdefault("api_format", a[2])
            d.setdefault("model_name", a[3])
            d["_name"] = a[0]
            d["_redis_key"] = self.affinity_key(a)
            out.append(d)
        return out

    def by_name(self, name):
        for d in self.readable():
            if d["_name"] == name:
                return d
        raise KeyError(name)

    def resolve_user(self, identifier):
        """resolve_user_identifier: trimmed; users.id, username, email, api_keys.id."""
        ident = identifier.strip()
        for field in ("id", "username", "email"):
            for u in self.users.values():
                if u[field] == ident:
                    return u["id"]
        k = self.api_keys.get(ident)
        return k["user_id"] if k else None

    def user_key_ids(self, user_id):
        return {k["id"] for k in self.api_keys.values() if k["user_id"] == user_id}

    def list_item(self, aff, pg=True):
        """One item of AdminListAffinitiesAdapter's answer. pg=False: PostgreSQL
        unavailable, every look-up empty."""
        ak = aff["affinity_key"]
        key = self.api_keys.get(ak) if pg else None
        user = self.users.get(key["user_id"]) if key else None
        prov = self.providers.get(aff.get("provider_id")) if pg else None
        endp = self.endpoints.get(aff.get("endpoint_id")) if pg else None
        pkey = self.provider_keys.get(aff.get("key_id")) if pg else None
        model = aff.get("model_name")
        gm = self.global_models.get(model) if pg and model else None
        return {
            "affinity_key": ak,
            "user_api_key_name": key["name"] if key else None,
            "user_api_key_prefix": key["masked"] if key and key["key_encrypted"] else None,
            "is_standalone": key["is_standalone"] if key else False,
            "user_id": key["user_id"] if key else None,
            "username": user["username"] if user else None,
            "email": user["email"] if user else None,
            "provider_id": aff.get("provider_id"),
            "provider_name": prov["display_name"] if prov else None,
            "endpoint_id": aff.get("endpoint_id"),
            "endpoint_api_format": endp["api_format"] if endp and endp["api_format"] else None,
            "endpoint_url": endp["base_url"] if endp else None,
            "key_id": aff.get("key_id"),
            "key_name": pkey["name"] if pkey else None,
            "key_prefix": pkey["masked"] if pkey and pkey["api_key"] else None,
            "rate_multiplier": pkey["rate_multiplier"] if pkey else 1.0,
            "global_model_id": model,
            "model_name": gm["name"] if model and gm else model,
            "model_display_name": gm["display_name"] if model and gm else None,
            "api_format": aff.get("api_format"),
            "created_at": aff.get("created_at"),
            "expire_at": aff.get("expire_at"),
            "request_count": aff.get("request_count", 0),
        }

    def expected_list(self, keyword=None, pg=True):
        """(sorted items, matched_user_id) as the reference computes them."""
        raw = self.readable()
        matched_user_id = matched_api_key_id = None
        if keyword:
            key = self.api_keys.get(keyword) if pg else None
            if key:
                matched_api_key_id = key["id"]
                matched_user_id = key["user_id"]
                raw = [a for a in raw if a["affinity_key"] == matched_api_key_id]
            else:
                user_id = self.resolve_user(keyword) if pg else None
                if user_id:
                    matched_user_id = user_id
                    ids = self.user_key_ids(user_id)
                    raw = [a for a in raw if a["affinity_key"] in ids]
        kw = keyword.lower() if keyword else None
        items = []
        for aff in raw:
            if not aff["affinity_key"]:
                continue
            item = self.list_item(aff, pg)
            if kw and not matched_user_id and not matched_api_key_id:
                searchable = [item["affinity_key"], item["user_api_key_name"] or "",
                              item["user_id"] or "", item["username"] or "",
                              item["email"] or "", item["provider_id"] or "",
                              item["key_id"] or ""]
                if not any(kw in str(v).lower() for v in searchable if v):
                    continue
            items.append(item)
        items.sort(key=lambda x: x.get("expire_at") or 0, reverse=True)
        return items, matched_user_id

    def expected_user_affinity(self, identifier):
        """aethertop's user-affinity answer (SPEC 5 deliberate difference: the
        affinities of all the user's API keys), or None for the 404."""
        user_id = self.resolve_user(identifier)
        if not user_id:
            return None
        user = self.users[user_id]
        ids = self.user_key_ids(user_id)
        affs = [a for a in self.readable() if a["affinity_key"] in ids]
        affs.sort(key=lambda x: x.get("expire_at") or 0, reverse=True)
        info = {"user_id": user_id, "username": user["username"], "email": user["email"]}
        if not affs:
            return {"status": "not_found",
                    "message": "用户 %s (%s) 没有缓存亲和性" % (user["username"], user["email"]),
                    "user_info": info, "affinities": []}
        return {"status": "ok", "user_info": info,
                "affinities": [{"provider_id": a["provider_id"], "endpoint_id": a["endpoint_id"],
                                "key_id": a["key_id"], "api_format": a.get("api_format"),
                                "model_name": a.get("model_name"), "created_at": a["created_at"],
                                "expire_at": a["expire_at"], "request_count": a["request_count"]}
                               for a in affs],
                "total_endpoints": len(affs)}

    def expected_mappings(self, pg=True):
        """AdminModelMappingCacheStatsAdapter's `data`, with SPEC's deliberate
        differences: every key inspected, unmapped sorted by name, a key
        prefix removed once from the front."""
        keys = [(k, _b(v), ttl) for k, v, ttl in MAPPING_KEYS]
        values = {k: v for k, v, _ in keys}
        ttls = {k: ttl for k, _, ttl in keys}
        model_id_keys = [k for k, _, _ in keys if k.startswith("model:id:")]
        pg_keys = [k for k, _, _ in keys if k.startswith(PG) and not k.startswith(PGH)]
        gm_id_keys = [k for k, _, _ in keys if k.startswith("global_model:id:")]
        gm_name_keys = [k for k, _, _ in keys if k.startswith("global_model:name:")]
        resolve_keys = [k for k, _, _ in keys if k.startswith(RES)]
        providers = self.providers if pg else {}
        mappings, unmapped = [], []

        def ttl_or_none(k):
            t = ttls[k]
            return t if t is not None and t > 0 else None

        for key in resolve_keys:
            name = key[len(RES):]
            raw = values[key]
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError:
                unmapped.append({"mapping_name": name, "status": "error", "ttl": None})
                continue
            if s == "NOT_FOUND":
                unmapped.append({"mapping_name": name, "status": "not_found", "ttl": ttl_or_none(key)})
                continue
            try:
                data = json.loads(s)
            except json.JSONDecodeError:
                unmapped.append({"mapping_name": name, "status": "invalid", "ttl": ttl_or_none(key)})
                continue
            if not isinstance(data, dict):
                unmapped.append({"mapping_name": name, "status": "error", "ttl": None})
                continue
            if name == data.get("name"):
                continue
            names = []
            gid = data.get("id")
            if gid and pg:
                for m in self.models:
                    p = providers.get(m["provider_id"])
                    if m["global_model_id"] != gid or not m["is_active"] or not p or not p["is_active"]:
                        continue
                    label = p["display_name"] or p["name"]
                    if m["provider_model_name"] == name:
                        names.append(label)
                        continue
                    if m["provider_model_mappings"]:
                        if name in [a.get("name") for a in m["provider_model_mappings"] if isinstance(a, dict)]:
                            names.append(label)
            mappings.append({"mapping_name": name, "global_model_name": data.get("name"),
                             "global_model_display_name": data.get("display_name"),
                             "providers": sorted(set(names)), "ttl": ttl_or_none(key)})
        mappings.sort(key=lambda x: x["mapping_name"])
        unmapped.sort(key=lambda x: x["mapping_name"])

        pmm = []
        active_providers = {i: p for i, p in providers.items() if p["is_active"]}
        active_gms = {i: g for i, g in self.global_models.items() if g["is_active"]} if pg else {}
        for key in pg_keys:
            parts = key[len(PG):].split(":")
            if len(parts) != 2:
                continue
            pid, gid = parts
            hits_raw = values.get(PGH + "%s:%s" % (pid, gid))
            try:
                hit_count = int(hits_raw) if hits_raw else 0
            except ValueError:
                continue
            try:
                data = json.loads(values[key].decode("utf-8"))
            except json.JSONDecodeError:
                continue
            p, g = active_providers.get(pid), active_gms.get(gid)
            if not (p and g):
                continue
            names = [e["name"] for e in (data.get("provider_model_mappings") or [])
                     if isinstance(e, dict) and e.get("name")]
            pmn = data.get("provider_model_name")
            if not pmn:
                continue
            if g["name"] != pmn or names:
                pmm.append({"provider_id": pid, "provider_name": p["display_name"] or p["name"],
                            "global_model_id": gid, "global_model_name": g["name"],
                            "global_model_display_name": g["display_name"],
                            "provider_model_name": pmn, "aliases": names or [g["name"]],
                            "ttl": ttl_or_none(key), "hit_count": hit_count})
        pmm.sort(key=lambda x: (x["provider_name"], x["global_model_name"]))
        total = (len(model_id_keys) + len(gm_id_keys) + len(gm_name_keys) + len(resolve_keys)
                 + len(pg_keys))
        return {
            "available": True,
            "ttl_seconds": 300,
            "total_keys": total,
            "breakdown": {"model_by_id": len(model_id_keys),
                          "model_by_provider_global": len(pg_keys),
                          "global_model_by_id": len(gm_id_keys),
                          "global_model_by_name": len(gm_name_keys),
                          "global_model_resolve": len(resolve_keys)},
            "mappings": mappings,
            "provider_model_mappings": pmm or None,
            "unmapped": unmapped or None,
        }

    # ---------------------------------------------------------- secrets

    def secret_strings(self):
        """Strings that must never appear in any output: every plaintext longer
        than 12 characters (a shorter one can be a substring of its own mask),
        every stored ciphertext and its inner Fernet token."""
        out = set()
        for k in list(self.api_keys.values()) + list(self.provider_keys.values()):
            stored = k.get("key_encrypted", k.get("api_key"))
            plain = k["plaintext"]
            if plain and len(plain) > 12:
                out.add(plain)
            if stored:
                out.add(stored[:40])
        for name, v in VECTORS.items():
            if v["plaintext"] and len(v["plaintext"]) > 12:
                out.add(v["plaintext"])
        return sorted(out)


def dev_env(extra=None):
    """Environment additions that make aethertop use the gateway's development
    default ENCRYPTION_KEY (the fixture's keyset)."""
    e = {"ENCRYPTION_KEY": None}
    e.update(extra or {})
    return e
