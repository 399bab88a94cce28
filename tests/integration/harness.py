"""tests/integration/harness.py — owns the plumbing shared by the integration
tests (Python 3 standard library only): where the servers and binaries are,
a small binary-safe Redis (RESP) client, fresh PostgreSQL databases with the
gateway schema, running `aethertop` / `aethertop-sim` against them, and the
checks the tests share (IntegrationTest.assertRegexAll,
IntegrationTest.assertNoSanitizerReport).

Typical test file (run by ctest as `python3 test_x.py`, see tests/CMakeLists.txt):

    import harness

    class ListTest(harness.IntegrationTest):
        @classmethod
        def setUpClass(cls):
            super().setUpClass()          # own Redis db + own PostgreSQL database
            cls.ctx.seed(affinities=500)  # aethertop-sim seed into both

        def test_list(self):
            rc, out, err = self.ctx.run_aethertop(["list", "--limit", "5"])
            self.assertEqual(rc, 0, err)

    if __name__ == "__main__":
        harness.main()

Isolation: every IntegrationTest class gets a Redis database index that no
other test holding a harness lock uses at the same time (file locks keyed by
the Redis port), and its own PostgreSQL database, so ctest -j runs are safe.

Environment (set by scripts/test and tests/CMakeLists.txt):
  AT_TEST_REDIS_PORT, AT_TEST_PG_ADMIN_URL  the throwaway servers (scripts/lib/servers.sh)
  AT_BUILD_DIR, AT_SOURCE_DIR, AT_FIXTURES_DIR
Without the servers, main() exits 77, which ctest reports as "skipped".
"""

import base64
import fcntl
import hashlib
import hmac
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SKIP_EXIT = 77

REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("AT_TEST_REDIS_PORT", "0") or 0)
PG_ADMIN_URL = os.environ.get("AT_TEST_PG_ADMIN_URL", "")
SOURCE_DIR = os.environ.get(
    "AT_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("AT_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "test"))
FIXTURES_DIR = os.environ.get(
    "AT_FIXTURES_DIR", os.path.join(SOURCE_DIR, "tests", "fixtures"))
SCHEMA_PATH = os.path.join(FIXTURES_DIR, "aether_schema.sql")

AETHERTOP = os.path.join(BUILD_DIR, "aethertop")
AETHERTOP_SIM = os.path.join(BUILD_DIR, "aethertop-sim")

# What a sanitizer report in a program's stderr contains (any of these).
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "ThreadSanitizer")

# Not a valid Fernet key, so the gateway (and aethertop) derive one with PBKDF2.
ENCRYPTION_KEY = "aethertop-integration-test-key"

# Settings the gateway reads (SPEC section 1): never inherited by the programs
# under test, so a developer's own environment cannot leak into a test.
GATEWAY_SETTINGS = (
    "REDIS_URL", "REDIS_PASSWORD", "REDIS_HOST", "REDIS_PORT", "REDIS_SENTINEL_HOSTS",
    "REDIS_SENTINEL_SERVICE_NAME", "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER",
    "DB_NAME", "DB_PASSWORD", "ENCRYPTION_KEY",
)


def servers_available():
    return bool(REDIS_PORT and PG_ADMIN_URL)


def require_servers():
    """Exit 77 (ctest: skipped) when the throwaway servers are not running."""
    if not servers_available():
        if os.environ.get("AT_REQUIRE_SERVERS") == "1":
            sys.stderr.write("integration test FAILED: scripts/test started no servers "
                             "(AT_TEST_REDIS_PORT / AT_TEST_PG_ADMIN_URL not set)\n")
            sys.exit(1)
        sys.stderr.write("integration test skipped: AT_TEST_REDIS_PORT / AT_TEST_PG_ADMIN_URL "
                         "not set (run scripts/test, which starts the servers)\n")
        sys.exit(SKIP_EXIT)


def need_tools(*names):
    """Fail (never skip) when a program a test needs is not installed:
    scripts/deps installs every one, so a missing tool is a broken test
    machine, not a check that may quietly count as passed."""
    missing = [n for n in names if not shutil.which(n)]
    if missing:
        raise AssertionError("not installed: %s (scripts/deps installs it)" % ", ".join(missing))


# --------------------------------------------------------------------- Redis

class RedisError(Exception):
    """An error reply (-ERR ...) from Redis."""


class Redis:
    """A tiny RESP2 client: arguments may be bytes, str (UTF-8), int or float;
    bulk replies come back as bytes, status replies as str, integers as int,
    nil as None, arrays as lists. Error replies raise RedisError (in
    pipeline() they are returned as RedisError instances instead)."""

    def __init__(self, db=0, port=None, host=REDIS_HOST, timeout=60):
        self.port = port or REDIS_PORT
        self.sock = socket.create_connection((host, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.db = db
        if db:
            self.execute("SELECT", db)

    @staticmethod
    def _arg(a):
        if isinstance(a, bytes):
            return a
        if isinstance(a, (bytearray, memoryview)):
            return bytes(a)
        if isinstance(a, bool):
            raise TypeError("bool is not a Redis argument")
        if isinstance(a, (int, float)):
            return repr(a).encode()
        if isinstance(a, str):
            return a.encode("utf-8", "surrogateescape")
        raise TypeError("unsupported Redis argument type: %r" % type(a))

    @classmethod
    def encode(cls, args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = cls._arg(a)
            out.append(b"$%d\r\n" % len(b))
            out.append(b)
            out.append(b"\r\n")
        return b"".join(out)

    def _read(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            return RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.reader.read(n + 2)
            if len(data) != n + 2:
                raise ConnectionError("short read from Redis")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise ConnectionError("unexpected RESP reply: %r" % line)

    def execute(self, *args):
        self.sock.sendall(self.encode(args))
        reply = self._read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    __call__ = execute

    def pipeline(self, commands, chunk=1000):
        """Send many commands (each a tuple/list of args); return all replies."""
        replies = []
        commands = list(commands)
        for i in range(0, len(commands), chunk):
            part = commands[i:i + chunk]
            self.sock.sendall(b"".join(self.encode(c) for c in part))
            replies.extend(self._read() for _ in part)
        return replies

    def scan_iter(self, match="*", count=1000):
        """Yield every key (bytes) matching `match`, walking with SCAN."""
        cursor = b"0"
        while True:
            cursor, keys = self.execute("SCAN", cursor, "MATCH", match, "COUNT", count)
            yield from keys
            if cursor in (b"0", "0"):
                break

    def keys(self, match="*"):
        """All matching keys as a sorted list of bytes (SCAN, never KEYS)."""
        return sorted(set(self.scan_iter(match)))

    def mget_dict(self, keys, chunk=500):
        """{key: value-or-None} for the given keys."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), chunk):
            part = keys[i:i + chunk]
            for k, v in zip(part, self.execute("MGET", *part)):
                out[k] = v
        return out

    def flushdb(self):
        return self.execute("FLUSHDB")

    def close(self):
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


_redis_conns = {}


def redis(db, *args):
    """Run one command on Redis database `db` (connections are cached)."""
    conn = _redis_conns.get(db)
    if conn is None:
        conn = _redis_conns[db] = Redis(db)
    return conn.execute(*args)


def flushdb(db):
    return redis(db, "FLUSHDB")


_db_locks = {}


def _lock_dir():
    path = os.path.join(tempfile.gettempdir(), "aethertop-it-locks-%d" % REDIS_PORT)
    os.makedirs(path, exist_ok=True)
    return path


def acquire_redis_db(db=None):
    """Reserve a Redis database index for this process. db=None: the first
    free one of 1..15 (waits when all are taken); a number: that one (waits
    while another test holds it). Held until release_redis_db() or exit."""
    wanted = [db] if db is not None else list(range(1, 16))
    deadline = time.monotonic() + 240
    while True:
        for n in wanted:
            if n in _db_locks:
                continue
            f = open(os.path.join(_lock_dir(), "db%d.lock" % n), "a+")
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            _db_locks[n] = f
            return n
        if time.monotonic() > deadline:
            raise RuntimeError("no free Redis database index (all locked by other tests)")
        time.sleep(0.2)


def release_redis_db(db):
    f = _db_locks.pop(db, None)
    if f:
        f.close()


def redis_url(db):
    return "redis://%s:%d/%d" % (REDIS_HOST, REDIS_PORT, db)


# ----------------------------------------------------------------- PostgreSQL

def _pg_url(dbname):
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return "%s/%s" % (base, dbname)


def sql_literal(value):
    """Quote a value for SQL text (standard_conforming_strings is on)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def psql(url, sql, check=True):
    """Run SQL text with psql (ON_ERROR_STOP); return stdout (unaligned,
    tuples only, fields separated by '|')."""
    proc = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
        input=sql, capture_output=True, text=True, encoding="utf-8", timeout=120,
        env=dict(os.environ, PGCONNECT_TIMEOUT="10", PGCLIENTENCODING="UTF8"))
    if check and proc.returncode != 0:
        raise RuntimeError("psql failed (%d): %s\nSQL: %s" % (proc.returncode, proc.stderr.strip(),
                                                               sql[:500]))
    return proc.stdout


def query(url, sql):
    """Run one SELECT; return its rows as a list of dicts (JSON-typed values,
    NULL as None)."""
    wrapped = "SELECT coalesce(json_agg(row_to_json(q)), '[]'::json) FROM (%s) q" % sql.rstrip(
        "; \n")
    out = psql(url, wrapped)
    return json.loads(out)


def query_value(url, sql):
    """The first column of the first row of a SELECT (or None)."""
    rows = query(url, sql)
    if not rows:
        return None
    return next(iter(rows[0].values()))


def fresh_database(name, schema=True):
    """(Re)create PostgreSQL database `name`, load the gateway schema, return its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError("database name must match [a-z_][a-z0-9_]*: %r" % name)
    psql(PG_ADMIN_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % name)
    psql(PG_ADMIN_URL, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8';" % name)
    url = _pg_url(name)
    if schema:
        if not os.path.isfile(SCHEMA_PATH):
            raise RuntimeError("schema not found: %s (set AETHERTOP_FIXTURES_DIR when "
                               "configuring)" % SCHEMA_PATH)
        proc = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", SCHEMA_PATH],
            capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError("loading %s failed: %s" % (SCHEMA_PATH, proc.stderr.strip()))
    return url


def drop_database(name):
    psql(PG_ADMIN_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % name, check=False)


# ------------------------------------------------------------------ programs

def program_env(redis_db=None, database_url=None, env=None):
    """Environment for a program under test: the caller's environment minus
    every gateway setting, UTC and UTF-8, no aethertop config file, then REDIS_URL / DATABASE_URL /
    ENCRYPTION_KEY for this test, then `env` (a value of None removes)."""
    e = {k: v for k, v in os.environ.items() if k not in GATEWAY_SETTINGS}
    e["TZ"] = "UTC"
    e["LC_ALL"] = "C.UTF-8"
    # no personal aethertop config file (~/.config/aethertop/config) leaks in
    e["XDG_CONFIG_HOME"] = os.path.join(tempfile.gettempdir(), "aethertop-it-no-config")
    e["ENCRYPTION_KEY"] = ENCRYPTION_KEY
    if redis_db is not None:
        e["REDIS_URL"] = redis_url(redis_db)
    if database_url:
        e["DATABASE_URL"] = database_url
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def run(argv, env=None, input=None, timeout=30, binary=False, cwd=None):
    """Run a program; return (exit code, stdout, stderr) — str (UTF-8, bad
    bytes replaced) unless binary=True. A timeout fails loudly."""
    if isinstance(input, str) and not binary:
        data = input
    elif isinstance(input, str):
        data = input.encode()
    else:
        data = input
    try:
        proc = subprocess.run(argv, env=env, input=data, capture_output=True, timeout=timeout,
                              cwd=cwd, text=not binary,
                              **({} if binary else {"encoding": "utf-8", "errors": "replace"}))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("%s timed out after %ss; stderr so far: %r"
                             % (" ".join(map(str, argv)), timeout, exc.stderr)) from None
    return proc.returncode, proc.stdout, proc.stderr


def _need_binary(path):
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built (AT_BUILD_DIR=%s)" % (path, BUILD_DIR))


def run_aethertop(args, redis_db=None, database_url=None, env=None, input=None, timeout=30,
                  binary=False):
    _need_binary(AETHERTOP)
    return run([AETHERTOP] + [str(a) for a in args],
               env=program_env(redis_db, database_url, env), input=input, timeout=timeout,
               binary=binary)


def run_sim(args, redis_db=None, database_url=None, env=None, timeout=120):
    """Run aethertop-sim; --redis/--database come from the environment
    (REDIS_URL / DATABASE_URL) unless args give them."""
    _need_binary(AETHERTOP_SIM)
    return run([AETHERTOP_SIM] + [str(a) for a in args],
               env=program_env(redis_db, database_url, env), timeout=timeout)


# ------------------------------------------------------- Fernet (no AES here)

def fernet_key(encryption_key=ENCRYPTION_KEY):
    """The 32-byte Fernet key the gateway derives from ENCRYPTION_KEY (SPEC 4)."""
    try:
        raw = base64.urlsafe_b64decode(encryption_key.encode())
        if len(raw) == 32 and base64.urlsafe_b64encode(raw).decode() == encryption_key:
            return raw
    except (ValueError, TypeError):
        pass
    salt = hashlib.sha256(b"aether-v1").digest()[:16]
    return hashlib.pbkdf2_hmac("sha256", encryption_key.encode(), salt, 100000, 32)


def fernet_token_ok(stored, key):
    """True when `stored` is base64url(Fernet token) with a valid HMAC under
    `key` (the decryption itself needs AES, which the C unit tests cover)."""
    try:
        token = base64.urlsafe_b64decode(stored.encode() + b"=" * (-len(stored) % 4))
        data = base64.urlsafe_b64decode(token + b"=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return False
    if len(data) < 1 + 8 + 16 + 16 + 32 or data[0] != 0x80 or (len(data) - 57) % 16:
        return False
    mac = hmac.new(key[:16], data[:-32], hashlib.sha256).digest()
    return hmac.compare_digest(mac, data[-32:])


# ------------------------------------------------------------- test context

class Context:
    """One test's private world: a Redis database index and a PostgreSQL
    database, plus helpers bound to them."""

    def __init__(self, name, redis_db=None):
        self.name = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50]
        self.redis_db = acquire_redis_db(redis_db)
        self.pg_name = "at_it_" + self.name
        self.database_url = None
        self.r = Redis(self.redis_db)

    def setup(self, schema=True):
        self.r.flushdb()
        self.database_url = fresh_database(self.pg_name, schema=schema)
        return self

    def close(self, drop=False):
        self.r.close()
        if drop:
            drop_database(self.pg_name)
        release_redis_db(self.redis_db)

    @property
    def redis_url(self):
        return redis_url(self.redis_db)

    def redis(self, *args):
        return self.r.execute(*args)

    def flushdb(self):
        return self.r.flushdb()

    def psql(self, sql):
        return psql(self.database_url, sql)

    def query(self, sql):
        return query(self.database_url, sql)

    def query_value(self, sql):
        return query_value(self.database_url, sql)

    def env(self, extra=None):
        return program_env(self.redis_db, self.database_url, extra)

    def run_aethertop(self, args, env=None, input=None, timeout=30, binary=False):
        return run_aethertop(args, self.redis_db, self.database_url, env=env, input=input,
                             timeout=timeout, binary=binary)

    def run_sim(self, args, env=None, timeout=120):
        return run_sim(args, self.redis_db, self.database_url, env=env, timeout=timeout)

    def spawn_sim(self, args, env=None):
        """Start aethertop-sim in the background (e.g. traffic); returns Popen."""
        _need_binary(AETHERTOP_SIM)
        return subprocess.Popen([AETHERTOP_SIM] + [str(a) for a in args], env=self.env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def seed(self, users=50, affinities=200, providers=None, models=None, api_keys=None,
             mappings=None, usage=None, seed=1, min_ttl=60, extra=()):
        """aethertop-sim seed into this test's databases; returns its stdout.
        min_ttl keeps every seeded affinity alive for at least that long."""
        args = ["seed", "--encryption-key", ENCRYPTION_KEY, "--users", users,
                "--affinities", affinities, "--seed", seed, "--min-ttl", min_ttl]
        for flag, value in (("--providers", providers), ("--models", models),
                            ("--api-keys", api_keys), ("--mappings", mappings),
                            ("--usage", usage)):
            if value is not None:
                args += [flag, value]
        args += list(extra)
        rc, out, err = self.run_sim(args, timeout=300)
        if rc != 0:
            raise AssertionError("aethertop-sim seed failed (%d): %s" % (rc, err.strip()))
        return out


def audit_records(text):
    """The outcome lines of an audit log's text, oldest first, after checking
    that every clear wrote its line of intent ("started", count 0) before its
    outcome, with the same id, operation and arguments, and that ids are not
    reused. A started line without an outcome (a clear still running, or
    killed) is allowed only as the last record of its id."""
    started, done, outcomes = {}, set(), []
    for line in text.splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        rid = rec.get("id")
        if not isinstance(rid, str) or len(rid) != 16:
            raise AssertionError("audit record without a 16-hex-digit id: %r" % line)
        if rec.get("outcome") == "started":
            if rid in started or rid in done:
                raise AssertionError("audit id %s started twice" % rid)
            if rec.get("count") != 0:
                raise AssertionError("a started line counts nothing: %r" % line)
            started[rid] = rec
            continue
        first = started.pop(rid, None)
        if first is None:
            raise AssertionError("audit outcome with no started line before it: %r" % line)
        for field in ("operation", "args", "redis", "target"):
            if first.get(field) != rec.get(field):
                raise AssertionError("audit %s differs between started and outcome: %r / %r"
                                     % (field, first.get(field), rec.get(field)))
        done.add(rid)
        outcomes.append(rec)
    return outcomes


def read_pty(fd, timeout, stop=None, exited=None):
    """What a program writes to the pty master `fd` until it closes its end
    (EOF, or EIO once the last writer is gone), `timeout` seconds pass,
    stop(output so far) is true, or exited() says the program has ended with
    nothing left to read."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if stop and stop(out):
                break
        elif exited and exited():
            break
    return out


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll until predicate() is truthy; return its value or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.1fs" % timeout)
        time.sleep(interval)


def _socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def tcp_connected(pid, port):
    """True when process `pid` holds an established TCP connection to `port`
    (of any address), read from /proc/<pid>/fd and /proc/net/tcp{,6}."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[3] != "01":        # 01: ESTABLISHED
                continue
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


def wait_connected(proc, port, timeout=30.0):
    """Poll until the child `proc` (Popen) is connected to `port`: it has
    read its configuration and reached the server (instead of guessing how
    long that takes with a sleep). Fails if it exits first."""
    def ready():
        if proc.poll() is not None:
            raise AssertionError("pid %d exited (%s) before connecting to port %d"
                                 % (proc.pid, proc.returncode, port))
        return tcp_connected(proc.pid, port)
    wait_for(ready, timeout=timeout)


def redis_stalled(port, probe=0.3, password=None):
    """True when the Redis on `port` accepts a connection but does not answer
    (AUTH password, then) PING within `probe` seconds (DEBUG SLEEP or CLIENT
    PAUSE in force)."""
    try:
        c = Redis(port=port, timeout=probe)
    except OSError:
        return False
    try:
        if password is not None:
            c.execute("AUTH", password)
        c.execute("PING")
        return False
    except (socket.timeout, TimeoutError):
        return True
    except (OSError, ConnectionError, RedisError):
        return False
    finally:
        c.close()


class IntegrationTest(unittest.TestCase):
    """Base class: setUpClass gives cls.ctx, a Context with a fresh, empty
    Redis db and a fresh PostgreSQL database with the schema loaded.
    Class attributes: NAME (default: script name + class name), REDIS_DB
    (default: any free index), SCHEMA (default True)."""

    NAME = None
    REDIS_DB = None
    SCHEMA = True
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not servers_available():
            raise unittest.SkipTest("test servers not running (use scripts/test)")
        script = os.path.splitext(os.path.basename(sys.argv[0] or "test"))[0]
        script = re.sub(r"^test_", "", script)
        name = cls.NAME or "%s_%s" % (script, cls.__name__)
        cls.ctx = Context(name, cls.REDIS_DB).setup(schema=cls.SCHEMA)

    @classmethod
    def tearDownClass(cls):
        ctx = getattr(cls, "ctx", None)
        if ctx:
            ctx.close()
        super().tearDownClass()

    def assertRegexAll(self, text, patterns):  # pylint: disable=invalid-name
        """assertRegex for each of the patterns in turn: text (a screen, an
        output) must match every one."""
        for pattern in patterns:
            self.assertRegex(text, pattern)

    def assertNoSanitizerReport(self, stderr, what, markers=SANITIZER_MARKERS):  # pylint: disable=invalid-name
        """stderr (text) of a run holds none of the markers of a sanitizer
        report; what (the arguments, say) names the run in the failure."""
        for marker in markers:
            self.assertNotIn(marker, stderr, "sanitizer report for %s" % (what,))


def main():
    """Entry point for test_*.py: skip (77) without servers, else unittest."""
    require_servers()
    unittest.main(verbosity=2)
