"""Helpers for the index tests: a scriptable HTTP server on loopback, feed builders and configs.

Everything here is real: the server is ``http.server`` in a thread, the feeds are bytes a
feed reader would get from the web. Handlers are plain functions of the request handler,
so a route can answer normally, hang, trickle, stream 50 MB or redirect forever.
"""
from __future__ import annotations

import dataclasses
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Iterable
from xml.sax.saxutils import escape

from index.config import Config

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"

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
                except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
                    self.close_connection = True

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server((host, 0), RequestHandler)
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

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

    def serve(self, path: str, body: bytes | str, *, status: int = 200, content_type: str = RSS_TYPE,
              headers: dict | None = None) -> str:
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


def static(body: bytes | str, *, status: int = 200, content_type: str = RSS_TYPE, headers: dict | None = None) -> Handler:
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
            req.wfile.write(body[i:i + 1])
            req.wfile.flush()
    return handler


def trickle_headers(body: bytes, interval: float, server: HTTPTestServer, content_type: str = RSS_TYPE,
                    status: str = "200 OK", extra: dict | None = None) -> Handler:
    """The status line and headers one byte per ``interval`` seconds, then the body at once."""
    def handler(req):
        more = "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nX-Padding: {'p' * 40}\r\n{more}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        for i in range(len(head)):
            if server.stopping.wait(interval):
                return
            req.wfile.write(head[i:i + 1])
            req.wfile.flush()
        req.wfile.write(body)
        req.close_connection = True
    return handler


def endless(total: int, head: bytes = b"", chunk: bytes = b"x" * 65536, content_type: str = RSS_TYPE,
            sent: list | None = None) -> Handler:
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


# -- feeds ------------------------------------------------------------------------
@dataclass
class Item:
    title: str
    text: str
    link: str | None = None
    guid: str | None = None
    date: datetime | None = None
    content_html: str | None = None  # content:encoded / atom:content
    author: str | None = None


def rss20(title: str, items: Iterable[Item], link: str = "http://news.example/", *, raw_description: bool = False) -> bytes:
    parts = []
    for it in items:
        x = ["<item>", f"<title>{escape(it.title)}</title>"]
        if it.link is not None:
            x.append(f"<link>{escape(it.link)}</link>")
        if it.guid is not None:
            x.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        if it.date is not None:
            x.append(f"<pubDate>{format_datetime(it.date)}</pubDate>")
        x.append(f"<description>{it.text if raw_description else escape(it.text)}</description>")
        if it.content_html is not None:
            x.append(f"<content:encoded><![CDATA[{it.content_html}]]></content:encoded>")
        if it.author:
            x.append(f"<author>{escape(it.author)}</author>")
        x.append("</item>")
        parts.append("".join(x))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>"
            f"{''.join(parts)}</channel></rss>\n").encode("utf-8")


def rss091(title: str, items: Iterable[Item]) -> bytes:
    parts = "".join(f"<item><title>{escape(i.title)}</title><link>{escape(i.link or '')}</link>"
                    f"<description>{escape(i.text)}</description></item>" for i in items)
    return ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
            f"<title>{escape(title)}</title><link>http://news.example/</link><description>d</description>"
            f"<language>en-us</language>{parts}</channel></rss>\n").encode("iso-8859-1")


def rss092(title: str, items: Iterable[Item]) -> bytes:
    parts = "".join(f"<item><title>{escape(i.title)}</title><link>{escape(i.link or '')}</link>"
                    f"<description>{escape(i.text)}</description></item>" for i in items)
    return ('<?xml version="1.0"?>\n<rss version="0.92"><channel>'
            f"<title>{escape(title)}</title><link>http://news.example/</link><description>d</description>"
            f"{parts}</channel></rss>\n").encode("utf-8")


def rss10(title: str, items: list[Item]) -> bytes:
    seq = "".join(f'<rdf:li rdf:resource="{escape(i.link or "")}"/>' for i in items)
    parts = "".join(
        f'<item rdf:about="{escape(i.link or "")}"><title>{escape(i.title)}</title><link>{escape(i.link or "")}</link>'
        f"<description>{escape(i.text)}</description>"
        + (f"<dc:date>{i.date.isoformat()}</dc:date>" if i.date else "") + "</item>" for i in items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="http://news.example/rss"><title>{escape(title)}</title><link>http://news.example/</link>'
            f"<description>d</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>{parts}</rdf:RDF>\n").encode()


def atom(title: str, items: Iterable[Item], *, base: str | None = None) -> bytes:
    parts = []
    for i in items:
        when = (i.date or datetime(2024, 1, 1, tzinfo=timezone.utc)).isoformat()
        body = (f'<content type="html">{escape(i.content_html)}</content>' if i.content_html else "")
        parts.append(f"<entry><title>{escape(i.title)}</title><id>{escape(i.guid or i.link or i.title)}</id>"
                     + (f'<link rel="alternate" href="{escape(i.link)}"/>' if i.link else "")
                     + f"<updated>{when}</updated><published>{when}</published>"
                     f'<summary type="text">{escape(i.text)}</summary>{body}'
                     + (f"<author><name>{escape(i.author)}</name></author>" if i.author else "") + "</entry>")
    xml_base = f' xml:base="{escape(base)}"' if base else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom"{xml_base}><title>{escape(title)}</title><id>urn:test:{escape(title)}</id>'
            f"<updated>2024-01-01T00:00:00Z</updated>{''.join(parts)}</feed>\n").encode("utf-8")


def json_feed(title: str, items: Iterable[Item], home: str = "http://news.example/", version: str = "1.1") -> bytes:
    out = []
    for i in items:
        entry = {"id": i.guid or i.link or i.title, "title": i.title}
        if i.link:
            entry["url"] = i.link
        if i.content_html:
            entry["content_html"] = i.content_html
            entry["summary"] = i.text
        else:
            entry["content_text"] = i.text
        if i.date:
            entry["date_published"] = i.date.isoformat()
        if i.author:
            entry["authors"] = [{"name": i.author}]
        out.append(entry)
    return json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": title,
                       "home_page_url": home, "items": out}).encode("utf-8")


def article_page(title: str, paragraphs: list[str], *, site: str = "Example News") -> bytes:
    """A news page the way sites serve them: header, navigation, ad slot, the article, related
    links, a newsletter box and a footer."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="2024-03-04T10:00:00Z"></head><body>
<header class="site-header"><div class="logo">{site}</div>
<nav class="main-nav"><ul><li><a href="/world">World</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li></ul></nav></header>
<div class="ad-slot">Advertisement</div>
<main><article><h1>{escape(title)}</h1><p class="byline">By Ada Reporter</p>{body}</article></main>
<aside class="related"><h2>Related stories</h2><ul><li><a href="/r1">Markets wobble on Monday</a></li>
<li><a href="/r2">Ten recipes for autumn</a></li></ul></aside>
<div class="newsletter"><h3>Sign up for our newsletter</h3><p>Get the best of {site} delivered to your inbox every morning.</p>
<form><input type="email"><button>Subscribe</button></form></div>
<footer class="site-footer"><p>Copyright 2024 {site}. All rights reserved.</p><a href="/privacy">Privacy policy</a>
<a href="/terms">Terms of use</a></footer></body></html>""".encode("utf-8")


# -- text ---------------------------------------------------------------------------
TOPICS = {
    "volcano": ["The volcano on the peninsula erupted again overnight, sending lava toward the harbour town.",
                "Geologists measured sulphur emissions and warned that magma was still rising under the crater.",
                "Residents were evacuated by boat while fissures opened along the old lava field."],
    "bank": ["The central bank raised its benchmark interest rate by half a point to curb inflation.",
             "Mortgage lenders said borrowers would face higher monthly repayments from next month.",
             "The governor told reporters that further increases remained possible if prices kept climbing."],
    "octopus": ["Marine biologists described a new species of deep-sea octopus found near a seamount.",
                "The octopus broods its eggs on warm rock at a depth of three thousand metres.",
                "Researchers used a remotely operated submarine to film the animals over several dives."],
    "football": ["The national football team won the championship final with a late goal in extra time.",
                 "Thousands of fans celebrated in the streets of the capital until dawn.",
                 "The coach praised the resilience of his players after a difficult season."],
}


def long_text(topic: str, sentences: int) -> str:
    base = TOPICS[topic]
    out = []
    for n in range(sentences):
        out.append(f"{base[n % len(base)][:-1]} in update number {n}.")
    return " ".join(out)


def make_config(data_dir: Path | str, **feeds) -> Config:
    """Test configuration: hash embedder, private networks allowed, short timeouts, few retries."""
    base = Config()
    feed_cfg = dataclasses.replace(base.feeds, allow_private_networks=True, retries=0, timeout_seconds=2.0,
                                   workers=4, **feeds)
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dir=str(data_dir)),
        embedding=dataclasses.replace(base.embedding, model="hash-embedder-256"),
        feeds=feed_cfg,
    )


def with_index(config: Config, **index) -> Config:
    return dataclasses.replace(config, index=dataclasses.replace(config.index, **index))


def with_embedding(config: Config, **embedding) -> Config:
    return dataclasses.replace(config, embedding=dataclasses.replace(config.embedding, **embedding))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def consistency(desk) -> dict:
    """What must hold after any ingest: no article twice, and the archive's passages are exactly
    the vectors in Chroma."""
    db = desk.archive.db
    return {
        "dup_guids": db.execute("SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1)").fetchone()[0],
        "dup_urls": db.execute("SELECT count(*) FROM (SELECT url FROM articles WHERE url != '' GROUP BY url HAVING count(*) > 1)").fetchone()[0],
        "archive_ids": desk.archive.all_passage_ids(),
        "chroma_ids": desk.store_or_open().all_ids(),
        "unembedded": db.execute("SELECT count(*) FROM passages WHERE embedded = 0").fetchone()[0],
    }


def assert_consistent(desk) -> None:
    c = consistency(desk)
    assert c["dup_guids"] == 0 and c["dup_urls"] == 0, c
    assert c["unembedded"] == 0
    assert c["archive_ids"] == c["chroma_ids"], (len(c["archive_ids"]), len(c["chroma_ids"]))


def articles(desk) -> list[dict]:
    return [dict(r) for r in desk.archive.db.query("SELECT * FROM articles ORDER BY id")]


def feed_row(desk, url: str) -> dict:
    return next(desk.archive.db.query("SELECT * FROM feeds WHERE url = ?", [url]))



# -- the command line ------------------------------------------------------------------
NEWSDESK = Path(sys.executable).with_name("newsdesk")


def write_config(path: Path, **feeds) -> Path:
    """A config file for `newsdesk --config`: the hash embedder, short timeouts. The data dir and
    private networks come from NEWSDESK_DATA_DIR / NEWSDESK_ALLOW_PRIVATE_NETWORKS."""
    values = {"timeout_seconds": 2.0, "retries": 0, "workers": 4, **feeds}
    lines = ["[embedding]", 'model = "hash-embedder-256"', "", "[feeds]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(data_dir), NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", HF_HUB_OFFLINE="1")
    return env


def newsdesk(args: list[str], data_dir: Path, config_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(NEWSDESK), "--config", str(config_path), *args], env=cli_env(data_dir),
                          capture_output=True, text=True, timeout=timeout)


def start_newsdesk(args: list[str], data_dir: Path, config_path: Path) -> subprocess.Popen:
    return subprocess.Popen([str(NEWSDESK), "--config", str(config_path), *args], env=cli_env(data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
