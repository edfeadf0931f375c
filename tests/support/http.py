"""A scriptable HTTP server on loopback, and the handlers tests route to it.

Everything here is real: the server is ``http.server`` in a thread, and what it serves is bytes a
feed reader would get from the web. Handlers are plain functions of the request handler, so a
route can answer normally, hang, trickle, stream 50 MB or redirect forever."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_in_thread(
    handler: type[http.server.BaseHTTPRequestHandler], host: str = "127.0.0.1"
) -> http.server.ThreadingHTTPServer:
    """A threading HTTP server for ``handler`` on a free port of ``host`` (loopback), serving in a
    daemon thread; stop it with ``shutdown()`` and ``server_close()``. Every test server is one."""
    httpd = _Server((host, 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


RSS_TYPE = "application/rss+xml; charset=utf-8"


HTML_TYPE = "text/html; charset=utf-8"


# -- the server -------------------------------------------------------------------
@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    at: float


class HTTPTestServer:
    """Serves registered routes; records every request (path without query, lower-case headers)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self.stopping = threading.Event()
        server = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                server.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                handler = server.routes.get(path) or server.routes.get(self.path)
                try:
                    if handler is None:
                        send(self, 404, b"not found", "text/plain")
                    else:
                        handler(self)
                except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = serve_in_thread(RequestHandler, host)
        self.base = f"http://{host}:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def requests_to(self, path: str) -> list[Hit]:
        return [h for h in list(self.hits) if h.path.split("?")[0] == path]

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class Site:
    """One test's corner of the shared server: every path is under a unique prefix."""

    def __init__(self, server: HTTPTestServer, prefix: str):
        self.server = server
        self.prefix = prefix

    @property
    def base(self) -> str:
        return self.server.base

    def path(self, path: str) -> str:
        return self.prefix + path

    def url(self, path: str) -> str:
        return self.server.url(self.prefix + path)

    def route(self, path: str, handler: Handler) -> str:
        return self.server.route(self.prefix + path, handler)

    def serve(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = RSS_TYPE,
        headers: dict | None = None,
    ) -> str:
        return self.route(path, static(body, status=status, content_type=content_type, headers=headers))

    def hits(self, path: str) -> list[Hit]:
        return self.server.requests_to(self.prefix + path)


# -- handlers ---------------------------------------------------------------------
def send(req, status: int, body: bytes | str, content_type: str = RSS_TYPE, headers: dict | None = None) -> None:
    if isinstance(body, str):
        body = body.encode("utf-8")
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        req.send_header(key, value)
    req.end_headers()
    if body:
        req.wfile.write(body)


def static(
    body: bytes | str, *, status: int = 200, content_type: str = RSS_TYPE, headers: dict | None = None
) -> Handler:
    return lambda req: send(req, status, body, content_type, headers)


def redirect(location: str, status: int = 302) -> Handler:
    return lambda req: send(req, status, b"", "text/plain", {"Location": location})


def conditional(body: bytes, etag: str, last_modified: str, content_type: str = RSS_TYPE) -> Handler:
    """Answers 304 when the client presents the validator it was given."""

    def handler(req):
        if req.headers.get("If-None-Match") == etag or req.headers.get("If-Modified-Since") == last_modified:
            req.send_response(304)
            req.send_header("ETag", etag)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        send(req, 200, body, content_type, {"ETag": etag, "Last-Modified": last_modified})

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    calls = iter(range(10**9))

    def handler(req):
        n = next(calls)
        handlers[min(n, len(handlers) - 1)](req)

    return handler


def hang(server: HTTPTestServer, seconds: float = 60.0) -> Handler:
    """Accepts the request and never answers (until the server stops)."""
    return lambda req: server.stopping.wait(seconds)


def delayed(handler: Handler, seconds: float, server: HTTPTestServer | None = None) -> Handler:
    def wrapped(req):
        if server is not None:
            if server.stopping.wait(seconds):
                return
        else:
            time.sleep(seconds)
        handler(req)

    return wrapped


def trickle_body(body: bytes, interval: float, server: HTTPTestServer, content_type: str = RSS_TYPE) -> Handler:
    """Headers at once, then the body one byte per ``interval`` seconds."""

    def handler(req):
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.flush()
        for i in range(len(body)):
            if server.stopping.wait(interval):
                return
            req.wfile.write(body[i : i + 1])
            req.wfile.flush()

    return handler


def trickle_headers(
    body: bytes,
    interval: float,
    server: HTTPTestServer,
    content_type: str = RSS_TYPE,
    status: str = "200 OK",
    extra: dict | None = None,
) -> Handler:
    """The status line and headers one byte per ``interval`` seconds, then the body at once."""

    def handler(req):
        more = "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nX-Padding: {'p' * 40}\r\n{more}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        for i in range(len(head)):
            if server.stopping.wait(interval):
                return
            req.wfile.write(head[i : i + 1])
            req.wfile.flush()
        req.wfile.write(body)
        req.close_connection = True

    return handler


def endless(
    total: int, head: bytes = b"", chunk: bytes = b"x" * 65536, content_type: str = RSS_TYPE, sent: list | None = None
) -> Handler:
    """``head`` then ``chunk`` repeated up to ``total`` bytes, with no Content-Length (read until close)."""

    def handler(req):
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("Connection", "close")
        req.end_headers()
        req.close_connection = True
        written = 0
        try:
            req.wfile.write(head)
            written += len(head)
            while written < total:
                req.wfile.write(chunk)
                written += len(chunk)
        finally:
            if sent is not None:
                sent.append(written)

    return handler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
