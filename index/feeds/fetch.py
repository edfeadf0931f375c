"""HTTP fetching for feeds and pages: timeouts, a body cap, checked redirects,
retries with backoff, Retry-After, per-host politeness and conditional GET.

One connection path: each hop's host is resolved once (netguard.checked_addresses), every address
is checked, and the connection goes to a checked address; the name is never resolved again, so
DNS rebinding (public to the check, loopback to the connection) reaches nothing. TLS still sends
and verifies the name. Bodies are decompressed here, with the cap counted on the decompressed
bytes as they come: stacked encodings ("gzip, gzip") are refused outright."""

from __future__ import annotations

import email.utils
import logging
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ..config import FeedsConfig
from ..errors import FetchError, UrlRefused
from .netguard import IPAddress, checked_addresses

log = logging.getLogger(__name__)

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects
    status: int
    content: bytes
    headers: dict[str, str]
    truncated: bool = False

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _HostGate:
    """At most N requests in flight per host, and a minimum delay between them."""

    def __init__(self, concurrency: int, delay: float):
        self._concurrency = concurrency
        self._delay = delay
        self._lock = threading.Lock()
        self._sems: dict[str, threading.Semaphore] = {}
        self._last: dict[str, float] = defaultdict(float)

    def acquire(self, host: str) -> None:
        with self._lock:
            sem = self._sems.setdefault(host, threading.Semaphore(self._concurrency))
        sem.acquire()
        if self._delay:
            with self._lock:
                wait = self._last[host] + self._delay - time.monotonic()
                self._last[host] = max(time.monotonic(), self._last[host] + self._delay)
            if wait > 0:
                time.sleep(wait)

    def release(self, host: str) -> None:
        self._sems[host].release()


_deadline = threading.local()
_pinned = threading.local()  # .addresses: the checked addresses the current request may connect to


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """The socket timeout for one read or write: never past the current request's overall deadline."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the overall deadline for this request has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write stops at the request's deadline, so a server that
    trickles its status line and headers cannot hold a worker for longer than the body may."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self):
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        """Connect to the request's checked addresses, in order; never resolve ``host`` again."""
        addresses = getattr(_pinned, "addresses", None)
        if not addresses:
            raise httpcore.ConnectError(f"no checked address to connect to for {host}")
        failure: Exception | None = None
        for ip in addresses:
            try:
                stream = self._backend.connect_tcp(
                    str(ip), port, _capped(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:  # pragma: no cover
        self._backend.sleep(seconds)


def _deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool = httpcore.ConnectionPool(  # the same pool httpx builds, on a deadline-aware backend
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_DeadlineBackend(),
    )
    return transport


class Fetcher:
    """A thread-safe fetcher shared by one ingest run."""

    def __init__(self, config: FeedsConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        timeout = httpx.Timeout(config.timeout_seconds, connect=min(10.0, config.timeout_seconds))
        limits = httpx.Limits(max_connections=max(10, config.workers * 2))
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=transport or _deadline_transport(limits),
            limits=limits,
            trust_env=False,  # no proxy from the environment: the connection goes to the checked address
        )
        self._gate = _HostGate(config.per_host_concurrency, config.per_host_delay_seconds)
        self.sleep = time.sleep  # replaced in tests

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(
        self, url: str, *, accept: str = FEED_ACCEPT, etag: str | None = None, last_modified: str | None = None
    ) -> Response:
        """GET with retries. Raises UrlRefused or FetchError; a 304 is returned, not raised."""
        attempts = self.config.retries + 1
        last_error = "no attempt made"
        for attempt in range(attempts):
            try:
                response = self._get_following_redirects(url, accept, etag, last_modified)
            except UrlRefused:
                raise
            except (httpx.TimeoutException, _Deadline) as exc:
                last_error = f"timed out ({exc.__class__.__name__})"
                delay = 2.0**attempt
            except httpx.HTTPError as exc:
                last_error = f"network error: {exc.__class__.__name__}: {exc}"
                delay = 2.0**attempt
            else:
                if response.status in _RETRY_STATUSES:
                    last_error = f"HTTP {response.status}"
                    asked = _retry_after_seconds(response.headers.get("retry-after"))
                    delay = 2.0**attempt if asked is None else asked
                    if delay > _MAX_RETRY_AFTER:
                        raise FetchError(f"HTTP {response.status}, Retry-After {delay:.0f}s is too long")
                elif response.status >= 400:
                    raise FetchError(f"HTTP {response.status}")
                else:
                    return response
            if attempt + 1 < attempts:
                log.info("fetch %s failed (%s), retry in %.1fs", url, last_error, delay)
                self.sleep(delay)
        raise FetchError(last_error)

    def _get_following_redirects(self, url, accept, etag, last_modified) -> Response:
        seen = []
        for _ in range(self.config.max_redirects + 1):
            addresses = checked_addresses(url, self.config.allow_private_networks)
            headers = {"Accept": accept}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response = self._get_once(url, headers, addresses)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                seen.append(url)
                url = urljoin(url, response.headers["location"])
                if url in seen:
                    raise FetchError(f"redirect loop at {url}")
                continue
            return response
        raise FetchError(f"too many redirects (more than {self.config.max_redirects})")

    def _get_once(self, url: str, headers: dict, addresses: list[IPAddress]) -> Response:
        host = urlsplit(url).hostname or ""
        cap = self.config.max_body_bytes
        self._gate.acquire(host)
        deadline = time.monotonic() + self.config.timeout_seconds * 2
        _deadline.at = deadline
        _pinned.addresses = addresses
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                chunks: list[bytes] = []
                size, truncated = 0, False
                if resp.status_code < 300 or resp.status_code >= 400:
                    decoder = _Decoder(resp.headers.get("content-encoding", ""))
                    for raw in resp.iter_raw():
                        if time.monotonic() > deadline:
                            raise _Deadline(f"body not complete after {self.config.timeout_seconds * 2:.0f}s")
                        chunk = decoder.decode(raw, cap + 1 - size)
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > cap:
                            truncated = True
                            break
                body = b"".join(chunks)[:cap]
                return Response(
                    url=str(resp.url),
                    status=resp.status_code,
                    content=body,
                    headers={k.lower(): v for k, v in resp.headers.items()},
                    truncated=truncated,
                )
        finally:
            _deadline.at = None
            _pinned.addresses = None
            self._gate.release(host)


class _Decoder:
    """Content-Encoding undone with a running cap: ``decode(raw, room)`` returns at most ``room``
    bytes, so a small compressed body never expands past the body cap in memory (495 bytes of
    "gzip, gzip" were 400 MB at once in httpx's decoder). One gzip or deflate layer only."""

    def __init__(self, header: str):
        codings = [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1:
            raise FetchError(f"refused stacked content encodings ({header.strip()}): at most one layer is accepted")
        self.coding = codings[0] if codings else None
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.coding is not None:
            raise FetchError(f"unsupported content encoding {self.coding!r} (gzip and deflate are)")
        self._first = True

    def decode(self, raw: bytes, room: int) -> bytes:
        if self.coding is None:
            return raw[: max(room, 0)]
        data = self._zlib.unconsumed_tail + raw if self._zlib.unconsumed_tail else raw
        try:
            out = self._zlib.decompress(data, max(room, 1))
        except zlib.error as exc:
            if self.coding == "deflate" and self._first:  # servers that send raw deflate, no zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                return self.decode(raw, room)
            raise FetchError(f"the {self.coding} body cannot be decompressed: {exc}") from None
        self._first = False
        return out


class _Deadline(Exception):
    pass
