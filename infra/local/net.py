"""The local stack's HTTP servers (moto, the API, the WhatsApp recorder) and their ports.

Three rules make a stack that starts again at once and is ready when its ports are:

- Every socket sets `SO_REUSEADDR`, as werkzeug's own servers do. The side of a connection that
  closes first keeps it in TIME_WAIT for a minute; when that is the server, the TIME_WAIT entry is
  on the server's port, and without `SO_REUSEADDR` it blocks the next start there ("Address
  already in use"). A real listener on the port still blocks it, and is reported as
  `cannot start the <what> on <host>:<port>: Address already in use`.
- Binding and listening are two steps. `HttpServer(...)` binds: the port is taken and its number is
  known (for `.local/stack.json`, or a parameter such as the API's public URL), but a connection to
  it is refused until `open()` listens. So whoever finds the port open finds the server behind it
  ready.
- `close()` also ends the connections still open (an idle client, a request in flight), so no
  socket or handler thread of a stopped server keeps its port.

werkzeug reports a busy port by printing a hint and calling `sys.exit(1)`; binding the socket here
first makes that an ordinary `OSError` naming the port and what wanted it.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, get_sockaddr, select_address_family


def bind_socket(host: str, port: int, purpose: str) -> socket.socket:
    """A TCP socket bound to `host:port` (0 = any free port) with `SO_REUSEADDR`, not listening.

    Raises OSError("cannot start the <purpose> on host:port: ...") when the port is taken: a
    listener on it, or a socket bound without `SO_REUSEADDR`. TIME_WAIT entries do not count."""
    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
    except OSError as exc:
        sock.close()
        raise _port_error(purpose, host, port, exc) from None
    return sock


def _port_error(purpose: str, host: str, port: int, exc: OSError) -> OSError:
    return OSError(exc.errno or errno.EADDRINUSE, f"cannot start the {purpose} on {host}:{port}: {exc.strerror or exc}")


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, knowing its open connections so that `close` can end them."""

    block_on_close = False  # `server_close` must not wait for a handler still running an invoke

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        """Shut every open connection down: a handler waiting for a request line gets EOF and ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class HttpServer:
    """A threaded werkzeug server for `app`: bound at construction, answering after `open()`."""

    def __init__(self, host: str, port: int, app: Any, purpose: str, *,
                 request_handler: type[WSGIRequestHandler] | None = None, name: str | None = None,
                 sock: socket.socket | None = None) -> None:
        """`sock`: a socket from `bind_socket` to adopt (closed here either way); else bind `host:port`."""
        self.purpose = purpose
        sock = sock if sock is not None else bind_socket(host, port, purpose)
        try:
            # werkzeug takes a duplicate of a bound socket's descriptor and does not listen on it.
            self._server = _Server(host, sock.getsockname()[1], app, request_handler, fd=sock.fileno())
        finally:
            sock.close()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=name or purpose.replace(" ", "-"), daemon=True)
        self._closed = False

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._thread.is_alive()

    def open(self) -> HttpServer:
        """Listen and serve. Raises OSError naming the port when another process listens there now
        (it bound with `SO_REUSEADDR` after us: only `listen` finds out)."""
        if self._closed:
            raise RuntimeError(f"the {self.purpose} is closed")
        try:
            self._server.server_activate()
        except OSError as exc:
            port = self.port
            self.close()
            raise _port_error(self.purpose, self.host, port, exc) from None
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release the port and end open connections; safe to call twice, or unopened."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():  # shutdown() would wait forever for a loop that never ran
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server.end_connections()


def free_port(host: str) -> int:
    """A port nobody listens on right now (tests that need fixed ports choose them with this)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
