"""tests/integration/extra_servers.py — private servers for the hardening
tests (test_tls, test_sentinel, test_faults, test_secrets) and the
connection-settings tests (test_cli_config, test_cli_configfile): redis-server
processes that a test may stop, kill, slow down or reconfigure (plain, TLS,
replica, sentinel) on free ports of 127.0.0.1, a silent server (accepts,
never answers), test certificates made with the openssl command, and the
output checks those tests share.

Every process is registered with the test's addCleanup (or the class's
addClassCleanup) when it is started, so it is stopped whatever happens.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import harness

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
OPENSSL = shutil.which("openssl")


def free_port():
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def silent_server(test, backlog=8):
    """A TCP server on a free port of 127.0.0.1 that accepts every connection
    and never answers (no RESP, no TLS handshake, no PostgreSQL start-up).
    It and the connections it holds are closed by the test's cleanup.
    Returns its port."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(backlog)
    test.addCleanup(lsock.close)
    held = []
    stop = threading.Event()

    def accept():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    test.addCleanup(lambda: [s.close() for s in held])
    test.addCleanup(stop.set)
    return lsock.getsockname()[1]


class RedisProcess:
    """One redis-server (or sentinel) process on 127.0.0.1:port.

    kind: "plain", "tls" or "sentinel". args: extra redis-server arguments.
    conf: text of a config file to start from (sentinels need one)."""

    def __init__(self, workdir, name, kind="plain", args=(), conf=None, tls=None):
        self.workdir = workdir
        self.name = name
        self.kind = kind
        self.extra = list(args)
        self.conf = conf
        self.tls = tls          # dict of cert paths (see make_certs) for kind "tls"
        self.port = None
        self.proc = None
        self.log = os.path.join(workdir, "%s.log" % name)

    # ------------------------------------------------------------ life cycle

    def _argv(self, port):
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.workdir, "--logfile", self.log,
                "--pidfile", os.path.join(self.workdir, "%s.pid" % self.name)]
        if self.kind == "sentinel":
            path = os.path.join(self.workdir, "%s.conf" % self.name)
            with open(path, "w") as f:
                f.write("port %d\n" % port)
                f.write(self.conf or "")
            # sentinels rewrite their config file: it must stay writable
            return [REDIS_SERVER, path, "--sentinel"] + base[:2] + ["--dir", self.workdir,
                                                                     "--logfile", self.log]
        if self.kind == "tls":
            t = self.tls
            net = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", t["server_cert"],
                   "--tls-key-file", t["server_key"], "--tls-ca-cert-file", t["ca"]]
        else:
            net = ["--port", str(port)]
        return [REDIS_SERVER] + net + base + self.extra

    def start(self, port=None, tries=5):
        """Start on `port` (or a free one); wait until it answers."""
        last = ""
        for _ in range(tries):
            p = port or free_port()
            with open(self.log, "a"):
                pass
            self.proc = subprocess.Popen(self._argv(p), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            self.port = p
            if self._wait_ready(15):
                return self
            last = self.tail()
            self.kill()
            if port:
                break
        raise AssertionError("could not start %s (%s): %s" % (self.name, self.kind, last))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.ping():
                    return True
            except (OSError, ConnectionError, harness.RedisError, subprocess.SubprocessError):
                pass
            time.sleep(0.05)
        return False

    def ping(self):
        if self.kind == "tls":
            out = self.cli("PING", timeout=5)
            return out.strip() == "PONG"
        c = harness.Redis(port=self.port, timeout=2)
        try:
            return c.execute("PING") == "PONG"
        finally:
            c.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s. Safe to call twice."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.proc = None

    def kill(self):
        """SIGKILL at once (a crash)."""
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self.proc = None

    def restart(self):
        """Start again on the same port (e.g. after stop or kill)."""
        self.stop()
        return self.start(port=self.port)

    # ------------------------------------------------------------ clients

    def client(self, db=0):
        """A harness.Redis connection (plain and sentinel servers only)."""
        assert self.kind != "tls"
        return harness.Redis(db=db, port=self.port, timeout=30)

    def cli(self, *args, timeout=10):
        """redis-cli (works with TLS too); returns stdout."""
        argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)]
        if self.kind == "tls":
            argv = [REDIS_CLI, "-h", "localhost", "-p", str(self.port), "--tls",
                    "--cacert", self.tls["ca"], "--cert", self.tls["client_cert"],
                    "--key", self.tls["client_key"]]
        proc = subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout)
        return proc.stdout

    def url(self, db=0, scheme=None, host="127.0.0.1"):
        scheme = scheme or ("rediss" if self.kind == "tls" else "redis")
        return "%s://%s:%d/%d" % (scheme, host, self.port, db)

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


def start_redis(test, workdir, name="redis", kind="plain", args=(), conf=None, tls=None,
                class_level=False):
    """Start a RedisProcess and register its stop as a cleanup of `test` (a
    TestCase instance, or the class when class_level)."""
    rp = RedisProcess(workdir, name, kind=kind, args=args, conf=conf, tls=tls)
    if class_level:
        test.addClassCleanup(rp.stop)
    else:
        test.addCleanup(rp.stop)
    return rp.start()


def need_redis_server():
    if not REDIS_SERVER or not REDIS_CLI:
        raise AssertionError("redis-server / redis-cli not installed (scripts/deps installs them)")


# ---------------------------------------------------------------- TLS

def _openssl(args, cwd):
    proc = subprocess.run([OPENSSL] + args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), proc.stderr.strip()))


def _issue(cwd, stem, subject, san, ca="ca"):
    _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", stem + ".key", "-out",
              stem + ".csr", "-subj", subject], cwd)
    ext = os.path.join(cwd, stem + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        if san:
            f.write("subjectAltName=%s\n" % san)
    _openssl(["x509", "-req", "-in", stem + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
              "-CAcreateserial", "-out", stem + ".pem", "-days", "2", "-extfile", ext], cwd)


def make_certs(cwd):
    """A CA, a server certificate for localhost/127.0.0.1, a server
    certificate for another name only, one whose names are wildcards, a
    client certificate, and a second CA nobody trusts. Returns a dict of absolute paths."""
    for ca in ("ca", "rogue-ca"):
        _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                  "-out", ca + ".pem", "-days", "2", "-subj", "/CN=aethertop test %s" % ca], cwd)
    _issue(cwd, "server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
    _issue(cwd, "other", "/CN=other.example", "DNS:other.example")
    _issue(cwd, "client", "/CN=aethertop-client", None)
    # wildcards: one for a whole label, one for part of a label
    _issue(cwd, "wild", "/CN=wildcards", "DNS:*.svc.aether.test,DNS:red*.aether.test")
    p = lambda n: os.path.join(cwd, n)  # noqa: E731
    return {"ca": p("ca.pem"), "rogue_ca": p("rogue-ca.pem"),
            "server_cert": p("server.pem"), "server_key": p("server.key"),
            "other_cert": p("other.pem"), "other_key": p("other.key"),
            "client_cert": p("client.pem"), "client_key": p("client.key"),
            "wild_cert": p("wild.pem"), "wild_key": p("wild.key")}


# ---------------------------------------------------------------- output checks

SANITIZER_MARKERS = harness.SANITIZER_MARKERS

# Raw bytes that must never reach a terminal from data: C0 controls except
# \n and \t, DEL; C1 controls and bidi controls as UTF-8.
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]"
                          rb"|\xe2\x81[\xa6-\xa9]")


def raw_controls(data):
    """The offending raw control sequences in `data` (bytes), if any."""
    return _RAW_CONTROL.findall(data)


def assert_clean(test, what, out, err):
    """No sanitizer report, no raw control byte, valid UTF-8 (bytes in)."""
    for stream, data in (("stdout", out), ("stderr", err)):
        text = data.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS:
            test.assertNotIn(m, text, "sanitizer report in %s of %s:\n%s" % (stream, what, text[-3000:]))
        bad = raw_controls(data)
        test.assertEqual(bad, [], "raw control bytes in %s of %s: %r" % (stream, what, bad[:10]))
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            test.fail("%s of %s is not UTF-8: %s" % (stream, what, e))
