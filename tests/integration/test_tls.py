"""Integration tests of rediss:// (TLS) to Redis (issue 5, "Connecting like
production"). The test makes its own CA and certificates with openssl and
starts its own redis-server processes with TLS on (no plain port):

  * verified: server certificate for localhost + 127.0.0.1, signed by our CA;
  * other-name: certificate for other.example only (host name must not match);
  * client-auth: --tls-auth-clients yes (a client certificate is required).

aethertop must verify the chain and the host name by default, accept the CA
given with --redis-ca, refuse untrusted or mismatching certificates with exit
3 and a message saying the certificate was not accepted, connect without
verification only with --insecure, and present a client certificate given
with --redis-cert / --redis-key (a file that cannot be used is named, an
encrypted key refused, never prompted for). Every wait is bounded by
--timeout, and a connection the server drops is an error, not a SIGPIPE.
"""

import json
import os
import pty
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import extra_servers as xs
import harness


class TLSRedis(harness.Redis):
    """harness.Redis over TLS (to put test data in the TLS servers)."""

    def __init__(self, port, certs, db=0):  # pylint: disable=super-init-not-called
        ctx = ssl.create_default_context(cafile=certs["ca"])
        ctx.load_cert_chain(certs["client_cert"], certs["client_key"])
        ctx.check_hostname = False   # the other-name server too; the chain is still verified
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.port = port
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.reader = self.sock.makefile("rb")
        self.db = db
        if db:
            self.execute("SELECT", db)


def affinity_value(provider, endpoint="e-1", key_id="pk-1", ttl=600):
    now = time.time()
    return json.dumps({"provider_id": provider, "endpoint_id": endpoint, "key_id": key_id,
                       "api_format": "CLAUDE", "model_name": "m-1", "created_at": now - 10,
                       "expire_at": now + ttl, "request_count": 3})


class TLSTest(harness.IntegrationTest):
    REDIS_DB = 10

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        xs.need_redis_server()
        if not xs.OPENSSL:
            raise AssertionError("the openssl command is not installed (apt-get install openssl): "
                                 "it makes the test certificates")
        cls.tmp = tempfile.mkdtemp(prefix="at-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)   # runs last: after the servers stop
        cls.certs = xs.make_certs(cls.tmp)
        cls.verified = xs.start_redis(cls, cls.tmp, "verified", kind="tls", tls=cls.certs,
                                      args=["--tls-auth-clients", "optional"], class_level=True)
        other = dict(cls.certs, server_cert=cls.certs["other_cert"], server_key=cls.certs["other_key"])
        cls.other = xs.start_redis(cls, cls.tmp, "othername", kind="tls", tls=other,
                                   args=["--tls-auth-clients", "optional"], class_level=True)
        cls.clientauth = xs.start_redis(cls, cls.tmp, "clientauth", kind="tls", tls=cls.certs,
                                        args=["--tls-auth-clients", "yes"], class_level=True)
        # a few affinities in each server (db 0 of our private servers)
        for srv in (cls.verified, cls.other, cls.clientauth):
            c = TLSRedis(srv.port, cls.certs)
            c.execute("FLUSHALL")
            c.execute("SETEX", "cache_affinity:key-tls-1:CLAUDE:m-1", 600, affinity_value("prov-tls-a"))
            c.execute("SETEX", "cache_affinity:key-tls-2:CLAUDE:m-1", 600, affinity_value("prov-tls-b"))
            c.close()

    # ------------------------------------------------------------ helpers

    def run_at(self, args, timeout=30):
        rc, out, err = self.ctx.run_aethertop([str(a) for a in args], timeout=timeout, binary=True,
                                              env={"REDIS_URL": None})
        xs.assert_clean(self, args, out, err)
        return rc, out.decode("utf-8"), err.decode("utf-8")

    def list_keys(self, args):
        rc, out, err = self.run_at(["list", "--json"] + args)
        self.assertEqual(rc, 0, "list over TLS failed: %s" % err)
        doc = json.loads(out)
        return sorted(i["affinity_key"] for i in doc["data"]["items"])

    def assert_refused(self, args, *phrases):
        t0 = time.monotonic()
        rc, out, err = self.run_at(["list", "--json", "--timeout", "5"] + args)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 3, "expected exit 3 (unreachable); stdout %r stderr %r" % (out, err))
        self.assertEqual(out, "", "nothing on stdout when the connection is refused")
        for p in phrases:
            self.assertIn(p, err)
        self.assertEqual(len(err.strip().splitlines()), 1, "a one-line reason: %r" % err)
        self.assertLess(elapsed, 10)
        return err

    # ------------------------------------------------------------ tests

    def test_verified_with_ca(self):
        url = "rediss://localhost:%d/0" % self.verified.port
        self.assertEqual(self.list_keys(["--redis", url, "--redis-ca", self.certs["ca"]]),
                         ["key-tls-1", "key-tls-2"])
        # IP address in the URL: the certificate's IP SAN matches
        url_ip = "rediss://127.0.0.1:%d/0" % self.verified.port
        self.assertEqual(self.list_keys(["--redis", url_ip, "--redis-ca", self.certs["ca"]]),
                         ["key-tls-1", "key-tls-2"])
        rc, out, err = self.run_at(["stats", "--json", "--redis", url, "--redis-ca", self.certs["ca"]])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["data"]["redis"]["role"], "master")

    def test_untrusted_certificate_refused(self):
        url = "rediss://localhost:%d/0" % self.verified.port
        # no --redis-ca: the system store does not know our CA
        err = self.assert_refused(["--redis", url], "certificate", "not accepted")
        self.assertIn("localhost", err)
        # a CA that did not sign the server certificate
        self.assert_refused(["--redis", url, "--redis-ca", self.certs["rogue_ca"]],
                            "certificate", "not accepted")

    def test_wrong_host_name_refused(self):
        # certificate for other.example, chain trusted
        url = "rediss://localhost:%d/0" % self.other.port
        err = self.assert_refused(["--redis", url, "--redis-ca", self.certs["ca"]],
                                  "certificate", "not accepted")
        self.assertIn("mismatch", err)
        url_ip = "rediss://127.0.0.1:%d/0" % self.other.port
        err = self.assert_refused(["--redis", url_ip, "--redis-ca", self.certs["ca"]],
                                  "certificate", "not accepted")
        self.assertIn("mismatch", err)

    def test_wildcard_names(self):
        """A certificate's wildcard stands for one whole label of the host
        name: "*.svc.aether.test" is good for redis.svc.aether.test, while
        "red*.aether.test" is good for no name (a partial wildcard, refused as
        browsers and Python's ssl refuse it; OpenSSL alone would accept it
        for redis.aether.test). The names resolve to 127.0.0.1 through an
        /etc/hosts of the test's own, bind-mounted in a mount namespace of
        aethertop's own (unshare; as root, or in a user namespace)."""
        if not shutil.which("unshare"):
            raise AssertionError("unshare (util-linux) is not installed: it gives aethertop "
                                 "host names of the test's own")
        wild = dict(self.certs, server_cert=self.certs["wild_cert"], server_key=self.certs["wild_key"])
        srv = xs.start_redis(self, self.tmp, "wildcards", kind="tls", tls=wild,
                             args=["--tls-auth-clients", "optional"])
        c = TLSRedis(srv.port, self.certs)
        c.execute("SETEX", "cache_affinity:key-wild:CLAUDE:m-1", 600, affinity_value("prov-wild"))
        c.close()
        hosts = os.path.join(self.tmp, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost redis.svc.aether.test redis.aether.test\n")
        ns = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
        probe = harness.run(ns + ["sh", "-c", 'mount --bind "$1" /etc/hosts && getent hosts redis.aether.test',
                                  "sh", hosts])
        self.assertEqual(probe[0], 0, "cannot give aethertop a hosts file of its own: %r" % (probe,))

        def run_named(host):
            args = ["list", "--json", "--timeout", "5", "--redis", "rediss://%s:%d/0" % (host, srv.port),
                    "--redis-ca", self.certs["ca"]]
            rc, out, err = harness.run(ns + ["sh", "-c", 'mount --bind "$1" /etc/hosts && shift && exec "$@"',
                                             "sh", hosts, harness.AETHERTOP] + args,
                                       env=self.ctx.env({"REDIS_URL": None}), binary=True)
            xs.assert_clean(self, args, out, err)
            return rc, out.decode(), err.decode()

        rc, out, err = run_named("redis.svc.aether.test")
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["affinity_key"] for i in json.loads(out)["data"]["items"]], ["key-wild"])
        rc, out, err = run_named("redis.aether.test")
        self.assertEqual(rc, 3, "a partial wildcard must not match: stdout %r stderr %r" % (out, err))
        self.assertEqual(out, "")
        self.assertIn("not accepted", err)
        self.assertIn("mismatch", err)

    def test_insecure_connects_without_verification(self):
        url = "rediss://localhost:%d/0" % self.verified.port
        self.assertEqual(self.list_keys(["--redis", url, "--insecure"]), ["key-tls-1", "key-tls-2"])
        # even to a certificate for another name
        url2 = "rediss://localhost:%d/0" % self.other.port
        self.assertEqual(self.list_keys(["--redis", url2, "--insecure"]), ["key-tls-1", "key-tls-2"])

        # and it says so, every time (on stderr, before anything else)
        rc, out, err = self.run_at(["list", "--json", "--redis", url2, "--insecure"])
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: --insecure", err)
        self.assertIn("not verified", err)
        # without it, no such warning
        rc, out, err = self.run_at(["list", "--json", "--redis", url, "--redis-ca", self.certs["ca"]])
        self.assertEqual(rc, 0, err)
        self.assertNotIn("--insecure", err)

    def test_client_certificate(self):
        url = "rediss://localhost:%d/0" % self.clientauth.port
        keys = self.list_keys(["--redis", url, "--redis-ca", self.certs["ca"],
                               "--redis-cert", self.certs["client_cert"],
                               "--redis-key", self.certs["client_key"]])
        self.assertEqual(keys, ["key-tls-1", "key-tls-2"])
        # without one the server hangs up: exit 3 with a reason, never a hang
        rc, out, err = self.run_at(["list", "--json", "--timeout", "3", "--redis", url,
                                    "--redis-ca", self.certs["ca"]])
        self.assertEqual(rc, 3, err)
        self.assertIn("Redis localhost:%d" % self.clientauth.port, err)
        self.assertIn("certificate required", err)   # the server's TLS alert, not just "broken pipe"

    def test_bad_client_certificate_file(self):
        url = "rediss://localhost:%d/0" % self.clientauth.port
        missing = os.path.join(self.tmp, "no-such-cert.pem")
        rc, out, err = self.run_at(["list", "--redis", url, "--redis-ca", self.certs["ca"],
                                    "--redis-cert", missing, "--redis-key", missing])
        self.assertEqual(rc, 3, err)
        self.assertIn("client certificate", err)

    def test_tls_file_errors_name_the_file(self):
        """A CA, certificate or key file that cannot be used: one line, exit
        3, naming the file and why (not just "TLS error")."""
        url = "rediss://localhost:%d/0" % self.clientauth.port
        ca, cert, key = self.certs["ca"], self.certs["client_cert"], self.certs["client_key"]
        missing = os.path.join(self.tmp, "no-such-file.pem")
        cases = [
            (["--redis-ca", missing], missing, "No such file"),
            (["--redis-ca", key], key, "CA"),
            (["--redis-ca", ca, "--redis-cert", missing, "--redis-key", key], missing, "No such file"),
            (["--redis-ca", ca, "--redis-cert", cert, "--redis-key", missing], missing, "No such file"),
            (["--redis-ca", ca, "--redis-cert", key, "--redis-key", key], key, "certificate"),
            # a key that is not the certificate's
            (["--redis-ca", ca, "--redis-cert", cert, "--redis-key", self.certs["server_key"]],
             self.certs["server_key"], "does not match"),
        ]
        for extra, name, why in cases:
            rc, out, err = self.run_at(["list", "--json", "--redis", url] + extra)
            self.assertEqual(rc, 3, "%s: %r" % (extra, err))
            self.assertEqual(out, "")
            self.assertIn(name, err, extra)
            self.assertIn(why, err, extra)
            self.assertEqual(len(err.strip().splitlines()), 1, "a one-line reason: %r" % err)
        # a key without a certificate is a usage error, not silently ignored
        rc, out, err = self.run_at(["list", "--json", "--redis", url, "--redis-ca", ca,
                                    "--redis-key", key])
        self.assertEqual(rc, 2, err)
        self.assertIn("--redis-key", err)
        self.assertIn("--redis-cert", err)
        self.assertEqual(len(err.strip().splitlines()), 1, "a one-line reason: %r" % err)

    def test_encrypted_client_key_never_prompts(self):
        """An encrypted client key, on a terminal: OpenSSL's default would
        ask for its passphrase on /dev/tty and wait there forever (no
        --timeout applies). aethertop refuses it at once, naming the file."""
        enc = os.path.join(self.tmp, "client-enc.key")
        xs._openssl(["pkey", "-in", self.certs["client_key"], "-out", enc, "-aes256",
                     "-passout", "pass:secret-pass"], self.tmp)
        url = "rediss://localhost:%d/0" % self.clientauth.port
        argv = [harness.AETHERTOP, "list", "--json", "--timeout", "2", "--redis", url,
                "--redis-ca", self.certs["ca"], "--redis-cert", self.certs["client_cert"],
                "--redis-key", enc]
        env = self.ctx.env({"REDIS_URL": None})
        pid, fd = pty.fork()   # the child's controlling terminal is the pty
        if pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        deadline = time.monotonic() + 10
        status = None
        try:
            out = harness.read_pty(fd, 10, stop=lambda o: b"pass phrase" in o.lower())
            # the pty reads EOF as the child closes its files, a moment
            # before it can be reaped: wait for that up to the deadline
            done, status = os.waitpid(pid, os.WNOHANG)
            while done == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
                done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                status = None
        finally:
            os.close(fd)
        text = out.decode("utf-8", "replace")
        self.assertNotIn("pass phrase", text.lower(), "asked for a passphrase: %r" % text)
        self.assertIsNotNone(status, "still running after 10 s: %r" % text)
        self.assertEqual(os.waitstatus_to_exitcode(status), 3, text)
        self.assertIn(enc, text)
        self.assertIn("encrypted", text)
        self.assertNotIn("secret-pass", text)

    def test_server_name_indication(self):
        """SNI carries the host name, never an address literal (RFC 6066
        section 3). Observed with a TLS listener that records what the
        client hello named, then hangs up."""
        import threading
        seen = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certs["server_cert"], self.certs["server_key"])
        ctx.sni_callback = lambda sock, name, c: seen.append(name)
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        self.addCleanup(lsock.close)
        port = lsock.getsockname()[1]

        def serve(n):
            for _ in range(n):
                conn, _ = lsock.accept()
                conn.settimeout(5)
                try:
                    with ctx.wrap_socket(conn, server_side=True):
                        pass
                except (OSError, ssl.SSLError):
                    conn.close()

        t = threading.Thread(target=serve, args=(2,), daemon=True)
        t.start()
        for host in ("localhost", "127.0.0.1"):
            self.run_at(["list", "--timeout", "3", "--redis", "rediss://%s:%d/0" % (host, port),
                         "--redis-ca", self.certs["ca"]])
        t.join(10)
        self.assertEqual(seen, ["localhost", None])

    def test_insecure_handshake_failure_names_the_real_reason(self):
        """With --insecure an unverified chain is no reason: a handshake that
        fails for another one (here a TLS 1.2 server that wants a client
        certificate) must not be reported as "certificate not accepted"."""
        srv = xs.start_redis(self, self.tmp, "tls12-clientauth", kind="tls", tls=self.certs,
                             args=["--tls-auth-clients", "yes", "--tls-protocols", "TLSv1.2"])
        rc, out, err = self.run_at(["list", "--timeout", "3", "--insecure", "--redis",
                                    "rediss://localhost:%d/0" % srv.port])
        self.assertEqual(rc, 3, err)
        self.assertNotIn("not accepted", err)
        self.assertIn("TLS handshake with localhost failed", err)

    def test_clear_and_large_values_over_tls(self):
        """Bulk traffic over TLS: many keys, a 1 MiB value, a clear."""
        c = TLSRedis(self.verified.port, self.certs, db=1)
        c.execute("FLUSHDB")
        c.pipeline([("SETEX", "cache_affinity:bulk-%05d:CLAUDE:m" % i, 600,
                     affinity_value("prov-bulk-%d" % (i % 3))) for i in range(5000)])
        c.execute("SETEX", "cache_affinity:big:CLAUDE:m", 600, b"x" * (1 << 20))
        url = "rediss://localhost:%d/1" % self.verified.port
        ca = ["--redis-ca", self.certs["ca"]]
        rc, out, err = self.run_at(["stats", "--json", "--redis", url] + ca, timeout=120)
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        self.assertEqual(data["total_affinity_keys"], 5000)
        self.assertEqual(data["unreadable_skipped"], 1)
        self.assertIn("1 unreadable affinity skipped", err)
        rc, out, err = self.run_at(["clear", "provider", "prov-bulk-1", "--yes", "--json",
                                    "--redis", url, "--audit-log",
                                    os.path.join(self.tmp, "audit.log")] + ca, timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["count"], 1667)
        left = [k for k in c.keys("cache_affinity:bulk-*")]
        self.assertEqual(len(left), 5000 - 1667)
        c.execute("FLUSHDB")
        c.close()

    def test_connection_killed_mid_walk(self):
        """The server drops the connection while a big walk is going (its
        pipelined batches still being written): a one-line error and exit
        3, never death by SIGPIPE (OpenSSL writes with write(), which
        raises it) or a hang."""
        c = TLSRedis(self.verified.port, self.certs, db=2)
        c.execute("FLUSHDB")
        for start in range(0, 60000, 5000):
            c.pipeline([("SETEX", "cache_affinity:kill-%06d:CLAUDE:m" % i, 600,
                         affinity_value("prov-kill-%d" % (i % 5))) for i in range(start, start + 5000)])
        url = "rediss://localhost:%d/2" % self.verified.port
        argv = [harness.AETHERTOP, "stats", "--json", "--timeout", "5", "--redis", url,
                "--redis-ca", self.certs["ca"]]
        for attempt in range(3):
            proc = subprocess.Popen(argv, env=self.ctx.env({"REDIS_URL": None}),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            killed = 0
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                # once aethertop is walking (past the handshake and set-up)
                clients = c.execute("CLIENT", "LIST", "TYPE", "normal").decode().splitlines()
                walking = [l for l in clients if "cmd=client|list" not in l and
                           any(" cmd=%s " % w in l for w in ("scan", "get", "mget", "ttl", "pttl"))]
                if walking:
                    reply = c.execute("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                    killed += int(reply or 0)
                time.sleep(0.005)
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate(timeout=10)
            xs.assert_clean(self, argv, out, err)
            if killed:
                break
        c.execute("FLUSHDB")
        c.close()
        err = err.decode()
        self.assertTrue(killed, "the walk ended before a kill could reach it")
        self.assertNotEqual(proc.returncode, -signal.SIGPIPE, "killed by SIGPIPE")
        self.assertEqual(proc.returncode, 3, err)
        self.assertIn("Redis localhost:%d/2" % self.verified.port, err)
        self.assertRegex(err, r"connection (lost|closed)")
        self.assertEqual(len([l for l in err.splitlines() if "PostgreSQL" not in l]), 1, err)

    def test_tls_to_plain_server_fails_fast(self):
        """rediss:// to a server that speaks plain RESP: a handshake error."""
        url = "rediss://127.0.0.1:%d/0" % harness.REDIS_PORT
        t0 = time.monotonic()
        rc, out, err = self.run_at(["list", "--timeout", "2", "--redis", url, "--insecure"])
        self.assertEqual(rc, 3, err)
        self.assertIn("TLS", err)
        self.assertLess(time.monotonic() - t0, 8)

    def test_tls_handshake_timeout(self):
        """A server that accepts the TCP connection but never answers the
        ClientHello: the handshake is bounded by --timeout."""
        url = "rediss://localhost:%d/0" % xs.silent_server(self)
        t0 = time.monotonic()
        rc, out, err = self.run_at(["list", "--timeout", "1", "--redis", url,
                                    "--redis-ca", self.certs["ca"]])
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 3, err)
        self.assertIn("timed out", err)
        self.assertLess(elapsed, 4, "the handshake must honour --timeout 1")


if __name__ == "__main__":
    harness.main()
