#!/usr/bin/env python3
"""bench/console_probe.py — runs the console in a pseudo-terminal of 120x40
and measures (startup) the time until the first full screen shows its
position line, or (idle SECONDS) the bytes written to the terminal per second
while nothing happens, with a 1 s refresh.

The console is started the way a shell starts a program: subprocess spawns
it with vfork/exec onto the terminal's slave side. (Forking this Python
interpreter instead, as pty.fork does, costs ~8 ms of copy-on-write faults on
the benchmark VM before the console even begins; that is the probe's cost,
not the console's.) Stdlib, and the tests' harness for its pty reader."""
import fcntl, os, pty, re, signal, struct, subprocess, sys, termios, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import read_pty  # noqa: E402  (the tests' pty reader)

# the position line of a screen that shows data: "rows 1–27 of 10,088"
MARKER = re.compile(rb"rows [1-9][0-9,]*\S+ of [1-9]")


def spawn(exe, args):
    """(process, master fd) of exe running on a new 120x40 terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    env.setdefault("LANG", "C.UTF-8")
    proc = subprocess.Popen([exe, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    return proc, master


def stop(proc, fd):
    try:
        os.write(fd, b"q")
        proc.wait(timeout=0.3)
    except (OSError, subprocess.TimeoutExpired):
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    os.close(fd)


def main():
    exe, mode = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    proc, fd = spawn(exe, ["--delay", "1"])
    found = MARKER.search(read_pty(fd, 10, stop=MARKER.search)) is not None
    ms = (time.monotonic() - t0) * 1000
    if not found:
        stop(proc, fd)
        sys.exit("console_probe: the first screen never showed its position line")
    if mode == "startup":
        print(f"startup_ms {ms:.1f}")
    else:
        seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
        read_pty(fd, 3)   # let the first refreshes settle
        data = read_pty(fd, seconds)
        print(f"idle_bytes {len(data)} idle_bytes_per_s {len(data) / seconds:.1f}")
    stop(proc, fd)


if __name__ == "__main__":
    main()
