"""tests/integration/usage_fixture.py — owns the known `usage` rows the
issue-6 tests add on top of fixture.py (prompt-cache effectiveness, TTL
advice, the HIT column): who made which requests when, with how many input
and cache-read tokens, and the figures that follow from them (computed here
by hand, never taken from aethertop).

    alice  4 requests, 1-4 min ago, 100 input + 300 cache-read tokens each
           (Anthropic Main, claude-sonnet-4)              -> 75.0 %
    bob    2 requests, 2-3 min ago, 500 input, no cache read
           (OpenAI Proxy, gpt-4o)                          -> 0.0 %, marked "!"
    carol  5 requests 20 min apart (0.5 .. 80.5 min ago), 200 + 200 each
           (Anthropic Main, claude-sonnet-4)
    zhang, mallory, the hostile user: affinities but no usage at all -> "!"
"""

import harness
from fixture import P_ANT, P_OAI, U_ALICE, U_BOB, U_CAROL

# (user, minutes ago, provider id, provider name, model, input, cache read, cache read cost)
ROWS = (
    [(U_ALICE, m, P_ANT, "anthropic-main", "claude-sonnet-4", 100, 300, 0.01) for m in (1, 2, 3, 4)]
    + [(U_BOB, m, P_OAI, "openai-proxy", "gpt-4o", 500, 0, 0.0) for m in (2, 3)]
    + [(U_CAROL, m, P_ANT, "anthropic-main", "claude-sonnet-4", 200, 200, 0.02)
       for m in (0.5, 20.5, 40.5, 60.5, 80.5)]
)


def sql():
    L = harness.sql_literal
    values = []
    for i, (user, ago, prov, pname, model, inp, cr, cost) in enumerate(ROWS):
        values.append("(%s, %s, %s, %s, %s, %d, %d, %s, now() - make_interval(secs => %s), 'completed')"
                      % (L(user), L("req-issue6-%d" % i), L(pname), L(model), L(prov), inp, cr, repr(cost),
                         repr(ago * 60)))
    return ("DELETE FROM usage WHERE request_id LIKE 'req-issue6-%';\n"
            "INSERT INTO usage (user_id, request_id, provider, model, provider_id, input_tokens, "
            "cache_read_input_tokens, cache_read_cost_usd, created_at, status) VALUES\n"
            + ",\n".join(values) + ";\n")


def window(minutes, user=None, provider=None):
    """(requests, cached requests, input, cache read, savings) over a window."""
    rows = [r for r in ROWS if r[1] <= minutes and (user is None or r[0] == user)
            and (provider is None or r[2] == provider)]
    inp = sum(r[5] for r in rows)
    cr = sum(r[6] for r in rows)
    return (len(rows), sum(1 for r in rows if r[6] > 0), inp, cr, round(sum(r[7] for r in rows) * 9, 6))


def rate_text(minutes, user=None, provider=None):
    _, _, inp, cr, _ = window(minutes, user, provider)
    return "-" if inp + cr == 0 else "%.1f%%" % (100.0 * cr / (inp + cr))
