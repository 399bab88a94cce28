#!/usr/bin/env python3
"""bench/measure.py — runs the issue-4 measurements (and issue 6's usage-table
queries) against the servers that bench/run started (AT_TEST_REDIS_PORT,
AT_TEST_PG_ADMIN_URL), prints a table and writes bench/RESULTS.md. Each
figure: median and spread (min..max) of several runs. Stdlib only.
BENCH_PARTS picks what runs: "affinities usage" (default, both), or any of
refresh search load clears console usage."""
import json, os, platform, re, signal, statistics, subprocess, sys, time


def restore_affinity(path):
    """Give every thread listed in `path` (written by RedisCore before it
    moved anything) its CPU mask back; bench/run calls this on exit too, so
    a bench killed in the middle of a clear leaves no thread pinned."""
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return
    for tid, mask in saved:
        try:
            os.sched_setaffinity(tid, mask)
        except OSError:
            pass  # gone meanwhile
    os.unlink(path)


if __name__ == "__main__" and sys.argv[1:2] == ["--restore-affinity"]:
    restore_affinity(sys.argv[2])
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ["AT_BUILD_DIR"]
RPORT = os.environ["AT_TEST_REDIS_PORT"]
PG_ADMIN = os.environ["AT_TEST_PG_ADMIN_URL"]
SCHEMA = os.path.join(ROOT, "tests", "fixtures", "aether_schema.sql")
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "10000 100000 1000000").split()]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PARTS = os.environ.get("BENCH_PARTS", "affinities usage").split()
if "affinities" in PARTS:
    PARTS += ["refresh", "search", "load", "clears", "console"]
USAGE_ROWS = int(os.environ.get("BENCH_USAGE_ROWS", "1000000"))
CLEAR_RUNS = int(os.environ.get("BENCH_CLEAR_RUNS", "3"))
# start-up is a short figure on a noisy VM: more runs for a steadier median
STARTUP_RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "11"))
results = []   # (figure, size, value text, target, ok)


def sh(args, env=None, check=True):
    p = subprocess.run(args, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return p.stdout


def nums(text, key):
    return [float(m) for m in re.findall(rf"{key} ([0-9.]+)", text)]


def spread(v):
    return f"{statistics.median(v):.1f} ({min(v):.1f}..{max(v):.1f})"


def redis_cli(*args):
    return sh(["redis-cli", "-p", RPORT, *args])


def seed_data(dbname, db, *sim_args):
    """A new PostgreSQL database `dbname` and an empty Redis (db `db`), filled
    by the simulator with sim_args; returns (database URL, the environment
    that points aethertop at both). Redis is emptied whole: an earlier
    measurement's keys (TTLs of 60-300 s) would otherwise expire in the
    middle of a later one, and Redis removes mass-expired keys in cycles of
    up to 25 ms in its main thread."""
    sh(["psql", PG_ADMIN, "-q", "-c", f"DROP DATABASE IF EXISTS {dbname}", "-c", f"CREATE DATABASE {dbname}"])
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname
    redis_cli("FLUSHALL")
    sh([f"{BUILD}/aethertop-sim", "seed", "--redis", f"redis://127.0.0.1:{RPORT}/{db}", "--database", url,
        "--schema", SCHEMA, *sim_args])
    return url, dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{RPORT}/{db}", DATABASE_URL=url)


def seed(size, db):
    """`size` affinities over proportionally many users and API keys."""
    return seed_data(f"bench{size}", db, "--users", str(min(5000, max(50, size // 20))),
                     "--api-keys", str(min(10000, max(100, size // 10))), "--providers", "50", "--models", "300",
                     "--affinities", str(size), "--min-ttl", "250")[1]


def status(ok):
    """ok / MISSED against a target; None: a figure shown without one."""
    return "shown" if ok is None else "ok" if ok else "MISSED"


def record(figure, size, value, target, ok):
    results.append((figure, size, value, target, ok))
    print(f"{figure:<46} {size:>9,}  {value:<34} {target:<10} {status(ok)}", flush=True)


def timed_json(args, env):
    """(wall ms, JSON document) of one command run."""
    t0 = time.monotonic()
    out = sh(args, env)
    return (time.monotonic() - t0) * 1000.0, json.loads(out)


def measure_usage(hours, label, db):
    """Issue 6: the usage-table reports on USAGE_ROWS rows written oldest
    first over `hours` (as the gateway appends them), after the VACUUM
    ANALYZE autovacuum gives an insert-only table. The target is on the
    query: the time PostgreSQL took as aethertop measured it around the call
    (`query_ms` in the JSON); the whole command's wall time (process start,
    connecting, the query, printing) is shown beside it."""
    url, env = seed_data(f"benchusage{hours}", db, "--users", "5000", "--api-keys", "10000", "--providers", "50",
                         "--models", "300", "--affinities", "1000", "--usage", str(USAGE_ROWS),
                         "--usage-hours", str(hours))
    sh(["psql", url, "-q", "-c", "VACUUM ANALYZE usage"])
    app = f"{BUILD}/aethertop"
    for window_h, name, args in ((5 / 60, "hits 5m", ["hits", "--window", "5m", "--json"]),
                                 (1, "hits 1h", ["hits", "--window", "1h", "--json"]),
                                 (24, "hits 24h", ["hits", "--window", "24h", "--json"]),
                                 (1, "ttl-advice 1 h", ["ttl-advice", "--hours", "1", "--json"]),
                                 (24, "ttl-advice 24 h", ["ttl-advice", "--hours", "24", "--json"])):
        timed_json([app, *args], env)  # warm the cache once, as a repeated view would
        q, wall = [], []
        for _ in range(RUNS):
            ms, doc = timed_json([app, *args], env)
            wall.append(ms)
            q.append(doc["windows"][0]["query_ms"] if "windows" in doc else doc["data"]["query_ms"])
        rows = min(1.0, window_h / hours) * USAGE_ROWS
        if window_h >= hours:
            # the stress case: the window takes in every row of the table,
            # so no index can narrow it; shown, not held to the target (a
            # bare count(*) of the million rows alone takes about 330 ms here)
            record(f"{name} query, ms [{label}; every row of the table]", USAGE_ROWS,
                   f"{spread(q)}; command {statistics.median(wall):.0f}", "none (stress case)", None)
            continue
        record(f"{name} query, ms [{label}; ~{rows / 1000:,.0f}k rows in it]", USAGE_ROWS,
               f"{spread(q)}; command {statistics.median(wall):.0f}", "<= 200", statistics.median(q) <= 200)


def _all_tasks():
    """Every thread on the machine, as (tid, its current CPU mask)."""
    tasks = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                tasks.append((int(tid), os.sched_getaffinity(int(tid))))
            except OSError:
                pass
    return tasks


class RedisCore:
    """During a clear, Redis's main thread has core 0 to itself, as on a
    machine of its own: every other thread that may move (every client of
    the bench, PostgreSQL, Redis's own helper threads, and whatever else
    runs here: this sandbox's own agent ran up to 13 ms at a time on Redis's
    core) goes to the other core(s), and gets its own CPU mask back after.
    Per-CPU kernel threads cannot move and stay. Threads started meanwhile
    (PostgreSQL's backends, the floor pass) inherit the other cores and are
    given every core after. The masks are written to BENCH_AFFINITY_FILE
    before anything moves, for bench/run to restore if the bench is killed.
    What the probe then measures is Redis making it wait, not this machine's
    scheduler sharing two cores. BENCH_PIN=0, fewer than 2 cores or no
    BENCH_REDIS_PID: nothing moves."""

    def __init__(self):
        self.saved = []
        self.rpid = os.environ.get("BENCH_REDIS_PID")
        self.file = os.environ.get("BENCH_AFFINITY_FILE") or os.path.join(ROOT, "build", "bench-affinity.json")
        self.on = os.environ.get("BENCH_PIN", "1") != "0" and bool(self.rpid) and (os.cpu_count() or 1) >= 2

    def __enter__(self):
        if not self.on:
            return self
        rpid, self.others = int(self.rpid), set(range(1, os.cpu_count()))
        self.saved = [(tid, mask) for tid, mask in _all_tasks() if 0 in mask]
        if rpid not in {tid for tid, _ in self.saved}:
            sys.exit(f"bench: Redis (pid {rpid}) is not running or may not run on core 0 (BENCH_PIN=0 to measure unpinned)")
        with open(self.file, "w") as f:
            json.dump([(tid, sorted(mask)) for tid, mask in self.saved], f)
        try:  # whatever stops this half-way (an error, a signal) undoes what moved
            try:
                os.sched_setaffinity(rpid, {0})
            except OSError as e:
                sys.exit(f"bench: could not pin Redis to core 0: {e} (BENCH_PIN=0 to measure unpinned)")
            for tid, mask in self.saved:
                if tid != rpid:
                    try:
                        os.sched_setaffinity(tid, mask - {0} or self.others)
                    except OSError:
                        pass  # a per-CPU kernel thread, or gone meanwhile
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if not self.on:
            return False
        restore_affinity(self.file)
        known = {tid for tid, _ in self.saved}
        for tid, mask in _all_tasks():
            if tid not in known and mask == self.others:
                try:
                    os.sched_setaffinity(tid, set(range(os.cpu_count())))
                except OSError:
                    pass
        return False


class CorePauses:
    """When the machine did not run Redis's core (core 0) at all: `perf
    record -e cpu-clock` samples every CPU at 1 kHz (a timer interrupt, idle
    or busy) and a gap of over 3 ms between two of core 0's samples is time
    that vCPU was not running (the hypervisor had taken it away, or was slow
    to wake it) — no program in the machine, Redis included, could run there
    then. Each slow PING is then also given less the part of its wait that
    fell in such a pause. Found with perf sampling and sched tracing: every
    PING over 20 ms in four runs of clear provider lined up with a 20-21 ms
    gap in core 0's samples, with Redis in user code right before and after.
    Without perf (or BENCH_PAUSES=0), nothing is measured and the figures
    say so."""

    PERIOD = 0.001      # s between samples
    GAP = 0.003         # a longer gap is a pause

    def __init__(self, path):
        self.path, self.proc, self.pauses = path, None, None

    @staticmethod
    def available():
        if os.environ.get("BENCH_PAUSES", "1") == "0":
            return False
        try:
            return subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-C", "0", "-o", "/dev/null", "true"],
                                  capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def __enter__(self):
        self.proc = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1000", "-C", "0", "-k",
                                      "CLOCK_MONOTONIC", "-o", self.path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf is sampling before the measurement starts
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()
        out = subprocess.run(["perf", "script", "-i", self.path, "-F", "time"], capture_output=True, text=True).stdout
        times = sorted(float(m) for m in re.findall(r"([0-9]+\.[0-9]+):", out))
        self.pauses = [(a + self.PERIOD, b) for a, b in zip(times, times[1:]) if b - a > self.GAP]
        os.unlink(self.path)
        return False

    def overlap_ms(self, t0_ms, ms):
        """How much of [t0, t0 + ms] (CLOCK_MONOTONIC, ms) fell in pauses."""
        a, b = t0_ms / 1000.0, (t0_ms + ms) / 1000.0
        return sum(max(0.0, min(b, e) - max(a, s)) for s, e in self.pauses) * 1000.0


def slow_pings(text, key):
    """[(t0 ms, wait ms)] from bench_core's "<key> T0:MS ..." line."""
    m = re.search(rf"^{key}((?: [0-9.]+:[0-9.]+)*)$", text, re.M)
    return [tuple(float(x) for x in p.split(":")) for p in m.group(1).split()] if m else []


def measure(size, db):
    env = None
    core = f"{BUILD}/aethertop-bench-core"
    floor = [f"{BUILD}/aethertop-bench-floor", "127.0.0.1", RPORT, str(db)]
    # 1. full refresh vs the floor, alternated
    fl, rf, rss = [], [], []
    if "refresh" in PARTS:
        env = seed(size, db)
    for _ in range(RUNS if env else 0):
        fl += nums(sh(floor), "ms")
        out = sh([core, "refresh", "1"], env)
        rf += nums(out, "refresh_ms")
        rss += nums(out, "peak_rss_mb")
    if env:
        ratio = statistics.median(rf) / statistics.median(fl)
        record("floor: SCAN+MGET, ms", size, spread(fl), "-", True)
        record("full refresh, ms", size, spread(rf), "-", True)
        # the issue holds the ratio to 1.5 at 1M and asks 10k and 100k to be reported
        if size >= 1000000:
            record("refresh / floor", size, f"{ratio:.2f}", "<= 1.5", ratio <= 1.5)
        else:
            record("refresh / floor", size, f"{ratio:.2f}", "none (reported)", None)
    if size >= 1000000 and env:
        record("peak RSS, MB", size, spread(rss), "<= 400", statistics.median(rss) <= 400)
    if size >= 1000000 and "search" in PARTS:
        env = env or seed(size, db)
        # 2. typing in search
        med, p99 = [], []
        for _ in range(3):
            out = sh([core, "search"], env)
            med += nums(out, "keystroke_median_ms")
            p99 += nums(out, "keystroke_p99_ms")
        record("keystroke median, ms", size, spread(med), "<= 50", statistics.median(med) <= 50)
        record("keystroke p99, ms", size, spread(p99), "<= 100", statistics.median(p99) <= 100)
    # 4. load on Redis in steady state
    if size in (10000, 1000000) and "load" in PARTS:
        secs = "20" if size < 1000000 else "90"
        env = seed(size, db)
        out = sh([core, "load", secs, "1"], env)
        share = nums(out, "redis_busy_share_pct")[0]
        interval = nums(out, "interval_s")[0]
        record("Redis time used by refreshes, %", size, f"{share:.2f} (interval {interval:.1f} s)", "<= 10", share <= 10)
    # 5. clears under a PING probe
    if size >= 1000000 and "clears" in PARTS:
        # what this machine alone makes a program on Redis's core wait, with
        # the clears' conditions (everything else moved off that core, Redis
        # idle and empty): beside the PING waits below
        redis_cli("FLUSHALL")
        spin, touch = [], []
        for _ in range(2):
            with RedisCore() as rc:
                out = sh((["taskset", "-c", "0"] if rc.on else []) + [f"{BUILD}/aethertop-bench-stall", "10"])
            spin += nums(out, "spin_max_gap_ms")
            touch += nums(out, "page_touch_max_ms")
        record("this machine alone on Redis's core: longest wait, ms", size,
               f"spinning {max(spin):.1f}; one first touch of a page {max(touch):.1f} (2 x 10 s)",
               "none (reported)", None)
        pauses_on = CorePauses.available()
        pauses_file = os.path.join(os.path.dirname(os.environ.get("BENCH_AFFINITY_FILE") or "/tmp/x"), "pauses.data")
        for kind, name in (("clear-all", "clear_all"), ("clear-provider", "clear_provider")):
            f = {k: [] for k in ("ms", "max_ping_ms", "baseline_max_ping_ms", "floor_ms", "floor_max_ping_ms",
                                 "slowest_command_ms")}
            wrong, rewrites, slow_names = 0, 0, []
            # PINGs of all runs, and how many waited over 10 / 20 ms: during
            # the clears and with the same load alone
            hist = {ph: [0, 0, 0] for ph in ("clear", "baseline")}
            # each run's longest wait less the pauses of Redis's core, per
            # phase; the pauses over 5 ms; the waits over 20 ms in a pause
            adj = {"clear": [], "baseline": [], "floor": []}
            pause_ms, over20, over20_paused = [], 0, 0
            for _ in range(CLEAR_RUNS):
                env = dict(seed(size, db), BENCH_FLOOR=" ".join(floor))
                cp = None
                with RedisCore() as rc:
                    if pauses_on and rc.on:
                        with CorePauses(pauses_file) as cp:
                            out = sh([core, kind], env)
                    else:
                        out = sh([core, kind], env)
                if cp:
                    pause_ms += [(e - b) * 1000 for b, e in cp.pauses if e - b > 0.005]
                    for ph, raw_key in (("clear", "max_ping_ms"), ("baseline", "baseline_max_ping_ms"),
                                        ("floor", "floor_max_ping_ms")):
                        pings = slow_pings(out, f"{name}_{ph}_slow_pings")
                        raw = nums(out, f"{name}_{raw_key}")
                        if any(nums(out, f"{name}_{ph}_slow_pings_dropped")):
                            pings = []  # not every slow PING is listed: the plain figure stands
                        # PINGs of 5 ms or less are not listed: they stand at most as they are
                        rest = min(raw[0] if raw else 0.0, 5.0) if pings else (raw[0] if raw else 0.0)
                        adj[ph].append(max([ms - cp.overlap_ms(t0, ms) for t0, ms in pings] + [rest]))
                        if ph == "clear":
                            over20 += sum(1 for _, ms in pings if ms > 20)
                            over20_paused += sum(1 for t0, ms in pings if ms > 20 and ms - cp.overlap_ms(t0, ms) <= 20)
                slow_names += re.findall(rf"{name}_slowest_command_ms [0-9.]+ (\S+)", out)
                if re.search(r"realtime_probe 1\b", out) is None:
                    sys.exit("bench: the PING probe could not get real-time priority (needs root or CAP_SYS_NICE)")
                for k in f:
                    f[k] += nums(out, f"{name}_{k}")
                for ph in hist:
                    m = re.search(rf"{name}_{ph}_pings (\d+) .*>10ms (\d+) .*>20ms (\d+)", out)
                    if m:
                        hist[ph] = [a + int(b) for a, b in zip(hist[ph], m.groups())]
                if kind == "clear-provider":
                    wrong += int(nums(out, "wrongly_deleted")[0])
                    rewrites += int(nums(out, "repoint_writes")[0])
            label = kind.replace("-", " ")
            load = " under the same re-pointing writer" if kind == "clear-provider" else ""
            med = {k: statistics.median(v) for k, v in f.items()}
            if kind == "clear-provider":
                # each run times its floor pass and its clear on the same data
                # under the same writer, one right after the other: the runs'
                # ratios are compared, so a slow or fast moment of the machine
                # weighs on both sides of one ratio alike
                ratios = [c / fl for c, fl in zip(f["ms"], f["floor_ms"]) if fl > 0]
                rmed = statistics.median(ratios) if ratios else float("inf")
                record(f"{label}, ms (vs one floor pass{load})", size,
                       f"{spread(f['ms'])} (floor {spread(f['floor_ms'])}); clear / floor in each run: "
                       f"{', '.join(f'{x:.2f}' for x in ratios)}, median {rmed:.2f}", "<= floor", rmed <= 1.0)
            else:
                record(f"{label}, ms", size, f"{spread(f['ms'])} (floor {spread(f['floor_ms'])})", "-", True)
            runs = ", ".join(f"{v:.1f}" for v in f["max_ping_ms"])
            # "never waits more than 20 ms": the longest wait of all runs
            worst = max(f["max_ping_ms"])
            record(f"{label}: longest PING wait, ms", size,
                   f"{worst:.1f} (each run's: {runs}); same load alone {max(f['baseline_max_ping_ms']):.1f}, "
                   f"during the floor pass {max(f['floor_max_ping_ms']):.1f}; slowest command "
                   f"{max(f['slowest_command_ms']):.1f} ({slow_names[f['slowest_command_ms'].index(max(f['slowest_command_ms']))]}); "
                   f"PINGs over 10 / 20 ms: {hist['clear'][1]} / {hist['clear'][2]} of {hist['clear'][0]:,} during the "
                   f"clears, {hist['baseline'][1]} / {hist['baseline'][2]} of {hist['baseline'][0]:,} with the same load alone",
                   "<= 20", worst <= 20)
            if adj["clear"]:
                wa = max(adj["clear"])
                runs = ", ".join(f"{v:.1f}" for v in adj["clear"])
                record(f"{label}: longest PING wait less the machine's pauses of Redis's core, ms", size,
                       f"{wa:.1f} (each run's: {runs}); same load alone {max(adj['baseline']):.1f}, during the floor "
                       f"pass {max(adj['floor']):.1f}; {over20_paused} of the {over20} waits over 20 ms were in a "
                       f"pause; pauses over 5 ms: {len(pause_ms)} in all runs, longest "
                       f"{max(pause_ms, default=0):.1f}", "<= 20", wa <= 20)
            else:
                record(f"{label}: longest PING wait less the machine's pauses of Redis's core, ms", size,
                       "not measured (needs perf, Redis pinned to core 0)", "none (reported)", None)
            if kind == "clear-provider":
                record("clear provider: wrongly deleted", size, f"{wrong} ({rewrites:,} re-points meanwhile, "
                       f"{CLEAR_RUNS} runs)", "0", wrong == 0)
    # 6. start-up and idle terminal output
    if size == 10000 and "console" in PARTS:
        env = seed(size, db)
        probe = os.path.join(ROOT, "bench", "console_probe.py")
        if os.path.exists(f"{BUILD}/aethertop"):
            st, by = [], []
            for _ in range(STARTUP_RUNS):
                out = sh([sys.executable, probe, f"{BUILD}/aethertop", "startup"], env)
                st += nums(out, "startup_ms")
            record("start-up to full first screen, ms", size, spread(st), "<= 150", statistics.median(st) <= 150)
            out = sh([sys.executable, probe, f"{BUILD}/aethertop", "idle", "30"], env)
            bps = nums(out, "idle_bytes_per_s")[0]
            record("idle terminal output 120x40, B/s", size, f"{bps:.0f}", "<= 1024", bps <= 1024)


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) / 1048576:.0f} GiB"
    except (OSError, ValueError):
        pass
    redis = sh(["redis-server", "--version"]).strip()
    pg = sh(["psql", "--version"]).strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {platform.platform()}; {redis}; {pg}"


def main():
    print(f"{'figure':<46} {'size':>9}  {'median (min..max)':<34} {'target':<10} result")
    if set(PARTS) & {"refresh", "search", "load", "clears", "console"}:
        for i, size in enumerate(SIZES):
            measure(size, 1 + i)
    if "usage" in PARTS:
        measure_usage(24 * 30, "30 days", 9)
        measure_usage(24, "last 24 h", 9)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("# Benchmark results\n\n")
        f.write(f"Generated by `bench/run` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n")
        f.write(f"Machine: {machine()}.\n\n")
        f.write(f"Each figure is the median of {RUNS} runs (spread min..max; start-up {STARTUP_RUNS} runs, clears "
                f"{CLEAR_RUNS}) unless one run is all there is. "
                "Data: the simulator (`aethertop-sim seed`) with 5,000 users / 10,000 API keys / 50 providers / "
                "300 models at 1M (scaled down for smaller sizes), TTLs 250-300 s; Redis is emptied before each "
                "seeding, so a measurement never shares Redis with an earlier one's expiring keys.\n\n")
        f.write("| figure | affinities or usage rows | measured | target | |\n| --- | ---: | --- | --- | --- |\n")
        for fig, size, val, target, ok in results:
            f.write(f"| {fig} | {size:,} | {val} | {target} | {'**missed**' if ok is False else status(ok)} |\n")
        f.write("\nReproduce: `bench/run` (about 15 minutes on this machine; `BENCH_SIZES=\"10000\" bench/run` for a quick look). "
                "The floor is `bench/floor.c`: plain hiredis, `SCAN 0 MATCH cache_affinity:* COUNT 1000` and one "
                "MGET per batch, values counted, nothing parsed. The full refresh is `bench/bench_core.c refresh`: "
                "walk + parse + enrich from PostgreSQL + filter + sort + the first page, the console's refresh "
                "path. Load on Redis: INFO commandstats usec summed over all commands, over wall time, while "
                "`bench_core load` refreshes with the console's adaptive pacer (`src/refresh.c`). "
                f"Clears ({CLEAR_RUNS} runs each, every run on freshly seeded data): a probe thread at real-time "
                "priority PINGs every millisecond and keeps the longest wait, judged over all runs (\"never waits "
                "more than 20 ms\"); during each run Redis's main thread has core 0 to itself, as on a machine "
                "of its own: every other thread that can move (the clients, PostgreSQL, Redis's helper threads and "
                "the machine's other processes) runs on the other core(s) and gets its CPU mask back after "
                "(`BENCH_PIN=0` turns that off). Each "
                "run first measures the same load without the clear for 5 s (\"same load alone\") and one floor "
                "pass under it, then the clear (clear provider is held to the floor by the median of the runs' "
                "clear / floor ratios); the slowest command is Redis's SLOWLOG over the clear. Clear "
                "provider runs with a writer re-pointing random affinities to another provider "
                "(`BENCH_REPOINT_RATE`, default 5,000 per second), and every affinity that did not point at the "
                "target, or was re-pointed away from it, is checked to be still there. The PING counts over 10 and "
                "20 ms set the clears beside the same load alone. The machine's pauses of Redis's core: `perf record -e "
                "cpu-clock -F 1000 -C 0` samples core 0 with a timer interrupt every millisecond, busy or idle, "
                "during each run; a gap of over 3 ms between two samples is time that virtual CPU did not run at "
                "all (the host had taken it away, or was slow to wake it), when neither Redis nor any other "
                "program could answer. Each PING over 5 ms is also given less the part of its wait that fell in "
                "such a gap; that figure is held to 20 ms beside the plain one, which is held to it too. \"This machine alone\" is `bench/stall.c` on Redis's "
                "core under the same conditions (Redis idle): 5 s of a loop that only reads the clock, 5 s of first "
                "touches of fresh pages; its longest waits are what the machine does with no Redis and no aethertop "
                "in it. "
                "Start-up: `bench/console_probe.py` spawns the console (vfork/exec, as a shell does) on a new "
                "120x40 pseudo-terminal and times until the first screen with data shows its position line. "
                "Usage reports (issue 6): 1,000,000 `usage` rows written oldest first (as the gateway appends "
                "them) over 30 days and, as a stress case, all within the last 24 h, then VACUUM ANALYZE; each "
                "figure is the query's time as aethertop measures it around the call (`query_ms` in the JSON), after one "
                "warm-up run, with the whole command's wall time (start, connect, query, print) beside it; "
                "`BENCH_PARTS=usage bench/run` runs only these.\n")
    held = [r for r in results if r[4] is not None]
    missed = [r for r in held if not r[4]]
    shown = len(results) - len(held)
    print(f"\n{len(held) - len(missed)} of {len(held)} figures with a target within it"
          f"{f'; {shown} shown without a target' if shown else ''}; RESULTS.md written")


if __name__ == "__main__":
    # a TERM or HUP ends the bench through the same unwinding as an error, so
    # RedisCore gives every thread its CPU mask back
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _: sys.exit(128 + n))
    main()
