"""The Debian package: configure a separate release build (no sanitizers, no
tests) in a temporary directory, build it and run cpack; then check the
.deb's control data (dependencies only on Debian packages, found by
dpkg-shlibdeps), unpack it with `dpkg -x` into a temporary root and run
`aethertop --version` and `--help` from there — with no LD_LIBRARY_PATH, the
libraries being the system's — and check that the man page, the bash and
zsh completions, the themes and the Chinese catalogue are in it (the man
page renders without warnings; the catalogue is used from the unpacked
tree). Needs no test servers.

Set AT_PACKAGE_BUILD_DIR to reuse (and keep) a build directory.
"""

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import harness

NEEDED = ("cpack", "dpkg-deb", "dpkg-shlibdeps", "msgfmt")


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


class PackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [p for p in NEEDED if not shutil.which(p)]
        if missing:
            raise AssertionError("missing tools for the package test: %s (scripts/deps installs them)"
                                 % ", ".join(missing))
        cls.keep = os.environ.get("AT_PACKAGE_BUILD_DIR")
        cls.build = cls.keep or tempfile.mkdtemp(prefix="at-pkg-build-")
        os.makedirs(cls.build, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="at-pkg-root-")
        try:
            cls.make_package()
        except BaseException:
            cls.tearDownClass()            # no temporary directory left behind
            raise

    @classmethod
    def make_package(cls):
        t0 = time.monotonic()
        jobs = os.environ.get("AT_TEST_JOBS", "2")
        steps = [
            ["cmake", "-S", harness.SOURCE_DIR, "-B", cls.build, "-DCMAKE_BUILD_TYPE=Release",
             "-DAETHERTOP_SANITIZE=OFF", "-DAETHERTOP_TESTS=OFF", "-DAETHERTOP_TOOLS=OFF",
             "-DAETHERTOP_WERROR=OFF"],
            ["cmake", "--build", cls.build, "-j", jobs],
            ["cpack", "-G", "DEB", "-B", os.path.join(cls.build, "pkg")],
        ]
        for argv in steps:
            p = run(argv, cwd=cls.build, timeout=600)
            if p.returncode != 0:
                raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), p.returncode,
                                                                   p.stdout[-3000:], p.stderr[-3000:]))
        cls.build_s = time.monotonic() - t0
        debs = [f for f in os.listdir(os.path.join(cls.build, "pkg")) if f.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError("expected one .deb, found %s" % debs)
        cls.deb = os.path.join(cls.build, "pkg", debs[0])
        p = run(["dpkg", "-x", cls.deb, cls.root])
        if p.returncode != 0:
            raise AssertionError("dpkg -x failed: %s" % p.stderr)
        cls.bin = os.path.join(cls.root, "usr", "bin", "aethertop")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        if not cls.keep:
            shutil.rmtree(cls.build, ignore_errors=True)

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD", "AETHERTOP_LOCALEDIR", "LANGUAGE", "LANG")}
        e["LC_ALL"] = "C.UTF-8"
        e["XDG_CONFIG_HOME"] = self.root          # no personal config file
        e.update(extra)
        return e

    def field(self, name):
        p = run(["dpkg-deb", "-f", self.deb, name])
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def test_control_data(self):
        self.assertEqual(self.field("Package"), "aethertop")
        depends = self.field("Depends")
        # dpkg-shlibdeps found Debian packages for every library linked
        for lib in ("libc6", "libhiredis", "libpq5", "libcjson1", "libssl3", "libncursesw6", "libinih1", "libnettle8"):
            self.assertIn(lib, depends)
        self.assertNotIn("libasan", depends)
        self.assertNotIn("libubsan", depends)
        for dep in depends.split(","):
            name = dep.strip().split(" ")[0]
            p = run(["dpkg-query", "-W", "-f=${Status}", name.split(":")[0]])
            self.assertIn("install ok installed", p.stdout, "%s is not a Debian package here" % name)

    def test_runs_from_the_unpacked_root(self):
        p = run([self.bin, "--version"], env=self.env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^aethertop \d+\.\d+\.\d+\n")
        self.assertIn("build: Release", p.stdout)
        self.assertNotIn("sanitizers:", p.stdout)
        # the catalogue is found next to the binary (../share/locale), not in the build tree
        self.assertIn("translations: %s" % os.path.join(self.root, "usr", "bin", "..", "share", "locale"),
                      p.stdout)
        p = run([self.bin, "--help"], env=self.env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("usage: aethertop"), p.stdout[:200])
        p = run([self.bin, "help", "list"], env=self.env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--csv", p.stdout)
        p = run([self.bin, "--help"], env=self.env(LANGUAGE="zh_CN"))
        self.assertIn("用法：aethertop", p.stdout)
        # ldd: every library resolved from the system
        p = run(["ldd", self.bin])
        self.assertNotIn("not found", p.stdout)

    def test_files(self):
        usr = os.path.join(self.root, "usr")
        man = os.path.join(usr, "share", "man", "man1", "aethertop.1.gz")
        self.assertTrue(os.path.isfile(man), "man page")
        with gzip.open(man, "rt", encoding="utf-8") as f:
            text = f.read()
        for must in (".SH COMMANDS", ".SH CONSOLE", ".SH CONFIGURATION FILE", ".SH EXIT STATUS", ".SH FILES",
                     ".SH ENVIRONMENT", "ttl\\-advice", "HIT 1h", "node_exporter"):
            self.assertIn(must, text)
        # groff-base is one of scripts/deps' packages: no groff is a failure, not a skip
        harness.need_tools("groff")
        p = run(["sh", "-c", "gzip -dc \"$0\" | groff -man -Tutf8 -ww -z", man])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "man page warnings")
        bash = os.path.join(usr, "share", "bash-completion", "completions", "aethertop")
        zsh = os.path.join(usr, "share", "zsh", "vendor-completions", "_aethertop")
        self.assertTrue(os.path.isfile(bash), "bash completion")
        self.assertTrue(os.path.isfile(zsh), "zsh completion")
        with open(zsh) as f:
            self.assertTrue(f.readline().startswith("#compdef aethertop"))
        # the bash completion completes commands and clear targets
        script = ("source %s; COMP_WORDS=(aethertop clear prov); COMP_CWORD=2; _aethertop; "
                  "echo \"${COMPREPLY[*]}\"; COMP_WORDS=(aethertop tt); COMP_CWORD=1; _aethertop; "
                  "echo \"${COMPREPLY[*]}\"" % bash)
        p = run(["bash", "--norc", "-c", script])
        self.assertEqual(p.stdout.splitlines(), ["provider provider-mapping", "ttl-advice"], p.stderr)
        for theme in ("default", "light", "monochrome", "high-contrast"):
            self.assertTrue(os.path.isfile(os.path.join(usr, "share", "aethertop", "themes", theme)), theme)
        self.assertTrue(os.path.isfile(os.path.join(usr, "share", "locale", "zh_CN", "LC_MESSAGES",
                                                    "aethertop.mo")))

    def test_build_time(self):
        # the whole package build stays well within the suite's budget
        self.assertLess(self.build_s, 240)


if __name__ == "__main__":
    unittest.main(verbosity=2)
