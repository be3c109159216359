"""``backscatter filter --connect SOCKET``: the spamc of this tool.

One message on stdin goes to ``backscatter serve`` (``POST /filter``) and comes back with the
verdict headers; the part past ``--max-kb`` is never sent, it is streamed straight through.
Like spamc, it never costs a message: when the daemon is down, errs or times out, the message
is written through untouched, exit 0 (or 75, "try later", with ``--on-error tempfail``).

Run before typer or anything of backscatter's is imported (``backscatter.cli.main`` looks
for ``--connect`` first): the standard library's ``socket`` only, a hand-written HTTP/1.1
request, so a message costs the interpreter's start-up plus a round trip (issue 10: <= 0.1 s).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

#: sysexits.h EX_TEMPFAIL, as spamc -x, procmail and Postfix pipe read it: retry later,
#: nothing is lost. Defined here, in the one filter module that imports only the standard
#: library, for the pipe filter and the command line too.
EX_TEMPFAIL = 75
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_KB = 10240
_CHUNK = 1 << 20
_MAX_RESPONSE_HEAD = 16384


class DaemonError(Exception):
    """The daemon did not give a usable answer (down, an error status, cut short, late)."""


class ClientOptions:
    """What ``filter --connect`` was asked (a plain class: dataclasses costs ~7 ms to import)."""

    __slots__ = ("connect", "max_kb", "tempfail", "timeout")

    def __init__(
        self,
        connect: str,
        max_kb: int = DEFAULT_MAX_KB,
        timeout: float = DEFAULT_TIMEOUT,
        tempfail: bool = False,
    ) -> None:
        self.connect = connect
        self.max_kb = max_kb
        self.timeout = timeout
        self.tempfail = tempfail


def parse_options(argv: list[str]) -> ClientOptions | None:
    """The ``filter`` options after the command name, or None when any is not ours (``-h``,
    ``--model``, a typo...): the full command line then answers, with its help and errors."""
    values: dict[str, str] = {}
    names = ("--connect", "--max-kb", "--timeout", "--on-error")
    position = 0
    while position < len(argv):
        argument = argv[position]
        name, equals, value = argument.partition("=")
        if name not in names:
            return None
        if not equals:
            position += 1
            if position == len(argv):
                return None
            value = argv[position]
        values[name] = value
        position += 1
    try:
        options = ClientOptions(
            connect=values["--connect"],
            max_kb=int(values.get("--max-kb", DEFAULT_MAX_KB)),
            timeout=float(values.get("--timeout", DEFAULT_TIMEOUT)),
            tempfail=values.get("--on-error", "accept") == "tempfail",
        )
    except (KeyError, ValueError):
        return None
    if options.max_kb < 1 or options.timeout <= 0 or not options.connect:
        return None
    if values.get("--on-error", "accept") not in ("accept", "tempfail"):
        return None
    return options


def main(argv: list[str]) -> int | None:
    """``filter`` with ``--connect``: the exit status, or None to fall through to the CLI."""
    options = parse_options(argv)
    if options is None:
        return None
    return run(options)


def run(options: ClientOptions) -> int:
    """One message from stdin to stdout through the daemon; the exit status."""
    source = sys.stdin.buffer if sys.stdin is not None else None
    target = sys.stdout.buffer if sys.stdout is not None else None
    try:
        if source is None:
            raise OSError("standard input is closed")
        head = source.read(options.max_kb * 1024)
    except (OSError, ValueError) as exc:
        _warn(f"cannot read the message: {exc}")
        return EX_TEMPFAIL
    status = 0
    try:
        output = ask(options.connect, head, options.timeout)
    except (OSError, DaemonError, ValueError) as exc:
        _warn(f"message passed through unscored: daemon at {options.connect}: {exc}")
        output, status = head, EX_TEMPFAIL if options.tempfail else 0
    try:
        if target is None:
            raise OSError("standard output is closed")
        target.write(output)
        while source is not None and (chunk := source.read(_CHUNK)):
            target.write(chunk)
        target.flush()
    except (OSError, ValueError) as exc:
        _warn(f"cannot pass the message on: {exc}")
        quiet_stdout()
        return EX_TEMPFAIL
    return status


def ask(connect: str, message: bytes, timeout: float) -> bytes:
    """``POST /filter`` to the daemon; the message it returns, complete, or DaemonError."""
    deadline = time.monotonic() + timeout
    connection = _connect(connect, timeout)
    try:
        request = (
            b"POST /filter HTTP/1.1\r\nHost: localhost\r\nContent-Type: message/rfc822\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(message)
        )
        connection.sendall(request + message if len(message) < 65536 else request)
        if len(message) >= 65536:
            connection.sendall(message)
        return _response(connection, deadline)
    finally:
        connection.close()


def _connect(connect: str, timeout: float) -> socket.socket:
    if connect.startswith("http://"):
        host, _, port = connect[len("http://") :].split("/", 1)[0].rpartition(":")
        return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    path = connect[len("unix:") :] if connect.startswith("unix:") else connect
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        raise
    return connection


def _response(connection: socket.socket, deadline: float) -> bytes:
    """The body of a 200 answer with a Content-Length, read in full before the deadline."""
    received = b""
    while (end := received.find(b"\r\n\r\n")) == -1:
        if len(received) > _MAX_RESPONSE_HEAD:
            raise DaemonError("response header too long")
        received += _receive(connection, deadline)
    lines = received[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        raise DaemonError(f"answered {lines[0][:100]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise DaemonError("answer without a Content-Length")
    body = bytearray(received[end + 4 :])
    while len(body) < length:
        body += _receive(connection, deadline)
    if len(body) != length:
        raise DaemonError("answer longer than announced")
    return bytes(body)


def _receive(connection: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DaemonError("timed out")
    connection.settimeout(remaining)
    chunk = connection.recv(_CHUNK)
    if not chunk:
        raise DaemonError("connection closed before the answer was complete")
    return chunk


def _warn(message: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"backscatter: {message}"[:500].replace("\n", " "), file=sys.stderr, flush=True)


def quiet_stdout() -> None:
    """After a failed write, point stdout at /dev/null: the interpreter flushes it on exit,
    and a second failure there would print a traceback and exit 120."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
