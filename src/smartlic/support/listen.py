"""Listening sockets bound before a server starts.

A server that finds its port taken should say which flag moves it, before it has printed that
it is serving; uvicorn instead logs ``[Errno 98]`` from inside its startup and exits. Binding
here first turns that into a ``ConfigurationError`` naming the flag, and lets a server whose
port was not chosen by the user fall back to a free one (two devices on one machine).
"""

from __future__ import annotations

import errno
import socket

from smartlic.core.errors import ConfigurationError

WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 - names, not a bind


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn and asyncssh do: a port left in TIME_WAIT by a stopped server is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _in_use(host: str, port: int, flag: str) -> ConfigurationError:
    return ConfigurationError(
        f"port {port} on {host or '*'}: address already in use (by another server, or another "
        "smartlic process on this machine)",
        hint=f"Give another port with {flag} N (0 takes any free port), or stop what holds it.",
    )


def bind(host: str, port: int | None, *, flag: str, default: int) -> socket.socket:
    """A bound, listening socket on ``port``; with ``port=None`` (the user chose nothing) on
    ``default``, or on a free port when ``default`` is taken. A port the user chose that is
    taken is refused, naming ``flag``."""
    chosen = default if port is None else port
    try:
        sock = _socket(host, chosen)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigurationError(
                f"cannot listen on {host}:{chosen}: {exc.strerror}",
                hint=f"Check the address and {flag}.",
            ) from exc
        if port is not None:
            raise _in_use(host, chosen, flag) from exc
        sock = _socket(host, 0)
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def check_free(host: str, port: int, *, flag: str) -> None:
    """Refuse, naming ``flag``, when ``host:port`` cannot be bound now (for servers that bind
    their own socket, such as uvicorn with several worker processes)."""
    if port == 0:
        return
    try:
        _socket(host, port).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _in_use(host, port, flag) from exc
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint=f"Check the address and {flag}."
        ) from exc


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def display_host(host: str) -> str:
    """The host part of a URL a person can open: the machine's name for a wildcard address."""
    if host in WILDCARDS:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
