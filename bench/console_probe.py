#!/usr/bin/env python3
"""bench/console_probe.py — runs the console in a pseudo-terminal of 120x40
and measures (startup) the time until the first full screen shows its
position line, or (idle SECONDS) the bytes written to the terminal per second
while nothing happens, with a 1 s refresh. Stdlib only.

The console is started the way a shell starts a program: subprocess spawns
it with vfork/exec onto the terminal's slave side. (Forking this Python
interpreter instead, as pty.fork does, costs ~8 ms of copy-on-write faults on
the benchmark VM before the console even begins; that is the probe's cost,
not the console's.)"""
import fcntl, os, pty, re, select, signal, struct, subprocess, sys, termios, time

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


def read_for(fd, seconds, until=None):
    buf = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        if until and until.search(buf):
            return buf, True
    return buf, False


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
    _, found = read_for(fd, 10, MARKER)
    ms = (time.monotonic() - t0) * 1000
    if not found:
        stop(proc, fd)
        sys.exit("console_probe: the first screen never showed its position line")
    if mode == "startup":
        print(f"startup_ms {ms:.1f}")
    else:
        seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
        read_for(fd, 3)   # let the first refreshes settle
        data, _ = read_for(fd, seconds)
        print(f"idle_bytes {len(data)} idle_bytes_per_s {len(data) / seconds:.1f}")
    stop(proc, fd)


if __name__ == "__main__":
    main()
