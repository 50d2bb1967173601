#!/usr/bin/env python3
"""A pseudo-terminal for `kubectl exec -t` (no native npm module needed): runs argv on the
slave side of a new pty and relays stdin (fd 0) to it and its output to stdout (fd 1). Control
lines on fd 3, `<width> <height>\\n`, set the terminal's size (the kernel then sends SIGWINCH
to its foreground process group). stdin's end becomes ^D. Exits with the command's status
(128 + n for signal n). SIGTERM and SIGHUP hang the terminal up on the command.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios

CONTROL_FD = 3
READ_BYTES = 65536


def main() -> int:
    argv = sys.argv[1:]
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as error:
            os.write(2, f"exec {argv[0]}: {error.strerror}\r\n".encode())
        os._exit(127)

    def hang_up(_signum, _frame):
        try:
            os.killpg(pid, signal.SIGHUP)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, hang_up)
    signal.signal(signal.SIGHUP, hang_up)
    stdin_open = True
    control_open = True
    pending = b""
    while True:
        watched = [master] + ([0] if stdin_open else []) + ([CONTROL_FD] if control_open else [])
        try:
            readable, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if master in readable:
            try:
                data = os.read(master, READ_BYTES)
            except OSError:  # EIO: the slave side is closed, the command is gone
                data = b""
            if not data:
                break
            os.write(1, data)  # blocks while the reader lags: backpressure
        if stdin_open and 0 in readable:
            data = os.read(0, READ_BYTES)
            if data:
                os.write(master, data)
            else:
                stdin_open = False
                os.write(master, b"\x04")
        if control_open and CONTROL_FD in readable:
            data = os.read(CONTROL_FD, 4096)
            if not data:
                control_open = False
                continue
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                try:
                    width, height = (int(x) for x in line.split())
                except ValueError:
                    continue
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
