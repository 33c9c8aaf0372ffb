"""Binding the local HTTP servers (moto and the API) with a clear error when a port is taken.

werkzeug reports a busy port by printing a hint and calling `sys.exit(1)`; inside a library (or a
test session) that must be an ordinary exception naming the port and what wanted it.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


def bind_server(host: str, port: int, app: Any, purpose: str, **options: Any) -> BaseWSGIServer:
    """A threaded werkzeug server bound to `host:port` (0 = any free port)."""
    if port:
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                message = f"cannot start the {purpose} on {host}:{port}: {exc.strerror}"
                raise OSError(errno.EADDRINUSE, message) from None
    try:
        return make_server(host, port, app, threaded=True, **options)
    except SystemExit:
        raise OSError(errno.EADDRINUSE, f"cannot start the {purpose} on {host}:{port}: address in use") from None


def free_port(host: str) -> int:
    """A port nobody listens on right now (for a server that must know its URL before it starts)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
