"""The bot tests' newsroom: feeds whose items a test adds while the bot runs, served from memory
(no ETag, so every poll sees the current content), and the stories they carry."""

from __future__ import annotations

import http.server
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from .http import serve_in_thread

NOW = datetime.now(UTC)


STORIES = [
    (
        "Volcano erupts near Grindavik in Iceland",
        "A volcano on the Reykjanes peninsula erupted near the fishing town of Grindavik in Iceland on Monday. "
        "Lava fountains rose into the night sky and residents of Grindavik were evacuated as lava flowed toward "
        "the town. Geologists said the eruption could continue for weeks.",
        1,
    ),
    (
        "Central bank raises interest rates to curb inflation",
        "The central bank raised its benchmark interest rate by a quarter point on Tuesday in an effort to curb "
        "inflation. The governor said further rate increases were possible if consumer prices keep rising. "
        "Mortgage lenders are expected to pass the higher rates on to borrowers.",
        2,
    ),
    (
        "City council approves new bicycle lanes downtown",
        "The city council voted to approve a network of protected bicycle lanes downtown. Cyclists welcomed the "
        "plan while some shop owners worried about losing parking spaces. Construction of the bicycle lanes "
        "begins in the spring.",
        3,
    ),
    (
        "Scientists discover new species of deep-sea octopus",
        "Marine scientists exploring a seamount in the Pacific discovered a new species of deep-sea octopus. "
        "The octopus lives at a depth of three thousand metres and broods its eggs on warm volcanic rock, the "
        "researchers wrote in the journal.",
        4,
    ),
    (
        "National team wins the football championship final",
        "The national football team won the championship final with a late goal in extra time. Thousands of "
        "fans celebrated in the streets of the capital after the football match, and the coach praised the "
        "players' resilience.",
        5,
    ),
    (
        "Heatwave breaks temperature records across Europe",
        "A heatwave broke temperature records across southern Europe this week. Authorities in Spain and Italy "
        "issued health warnings as temperatures passed forty-five degrees, and wildfires forced evacuations "
        "near the coast.",
        6,
    ),
]


WIRE_STORIES = [
    # the same story as the first Daily Planet item (same title, other words): grouped, "also: Wire Service"
    (
        "Volcano erupts near Grindavik in Iceland",
        "Wire report: the eruption near Grindavik in Iceland sent lava toward the town on Monday, and the "
        "evacuated residents of Grindavik watched the volcano glow from a safe distance. Officials closed roads.",
        1,
    ),
    (
        "@everyone Breaking: <@&123> markets rally as tech shares surge",
        "Stock markets rallied as technology shares surged after strong quarterly earnings. @everyone was "
        "talking about the rally, traders said, and <@&123> analysts raised their forecasts for the sector.",
        2,
    ),
    (
        "Farmers protest against new fertiliser rules",
        "Farmers drove tractors into the capital to protest against new fertiliser rules that limit nitrogen "
        "use. The agriculture minister promised talks with farmers next week about the fertiliser limits.",
        3,
    ),
    (
        "Museum returns looted bronze statues",
        "The national museum returned a collection of looted bronze statues to their country of origin in a "
        "ceremony attended by ministers. The bronze statues had been taken during the colonial era.",
        4,
    ),
]


METRO = [
    (
        "Metro line extension opens to passengers",
        "The new metro line extension opened to passengers on Saturday, adding four stations in the eastern "
        "districts. Commuters said the metro extension cut their journey times by half.",
        1,
    ),
    (
        "Harbour bridge closed for repairs",
        "The harbour bridge will be closed for repairs for two weeks, the transport authority said. Drivers "
        "are advised to use the tunnel while engineers replace the bridge joints.",
        2,
    ),
]


def rss(title: str, base: str, items: list[dict]) -> bytes:
    parts = []
    for item in items:
        parts.append(
            "<item>"
            f"<title>{escape(item['title'])}</title>"
            f"<link>{escape(item['link'])}</link>"
            f'<guid isPermaLink="false">{escape(item["guid"])}</guid>'
            f"<pubDate>{format_datetime(item['date'])}</pubDate>"
            f"<description>{escape(item['text'])}</description>"
            + (f"<author>{escape(item['author'])}</author>" if item.get("author") else "")
            + "</item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>{escape(base)}</link><description>test feed</description>{''.join(parts)}</channel></rss>"
    ).encode()


class FeedServer:
    """Serves bytes from a dict; no Last-Modified/ETag, so every fetch sees the current content."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.gets: dict[str, int] = {}  # GET requests per path (e.g. a URL several servers follow is read once)
        files, gets = self.files, self.gets

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                gets[path] = gets.get(path, 0) + 1
                status, body = files.get(path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = serve_in_thread(Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class ServedFeed:
    server: FeedServer
    path: str
    title: str
    items: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.base + self.path

    def publish(self) -> None:
        self.server.files[self.path] = (200, rss(self.title, self.server.base, self.items))

    def add_item(self, title: str, text: str, *, date: datetime | None = None, slug: str | None = None) -> str:
        slug = slug or f"item{len(self.items) + 1}"
        link = f"{self.server.base}{self.path.rsplit('/', 1)[0]}/{slug}.html"
        self.items.append(
            {
                "title": title,
                "text": text,
                "link": link,
                "guid": f"{self.path}#{slug}",
                "date": date or datetime.now(UTC),
            }
        )
        self.publish()
        return link

    def fail(self, status: int = 500) -> None:
        self.server.files[self.path] = (status, b"server error")


def make_feed(server: FeedServer, name: str, title: str, stories, prefix: str) -> ServedFeed:
    feed = ServedFeed(server, f"{prefix}/{name}.xml", title)
    for i, (story_title, text, days_ago) in enumerate(stories, 1):
        feed.add_item(story_title, text, date=NOW - timedelta(days=days_ago, hours=i), slug=f"{name}-{i}")
    feed.items[0]["author"] = "reporter@example.com (Ada Reporter)"
    feed.publish()
    return feed


@dataclass
class Feeds:
    planet: ServedFeed
    wire: ServedFeed
    prefix: str
    server: FeedServer

    def new(self, name: str, title: str, stories=()) -> ServedFeed:
        return (
            make_feed(self.server, name, title, stories, self.prefix)
            if stories
            else _empty(self.server, name, title, self.prefix)
        )


def _empty(server, name, title, prefix) -> ServedFeed:
    feed = ServedFeed(server, f"{prefix}/{name}.xml", title)
    feed.publish()
    return feed
