"""A valid feed that lists no entries is reported with a warning (`feeds list`, the bot's feed
list), not as a silent "ok, 0 articles"; the warning stays while the feed answers 304 and goes
once the feed has entries."""

from __future__ import annotations

from datetime import UTC, datetime

from support.cli import Cli, write_config
from support.feeds import Item, rss20
from support.http import conditional

from bot import render
from index.config import load_config
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder


def test_a_valid_feed_without_entries_is_listed_with_a_warning(site, tmp_path):
    empty = rss20("Quiet Quarterly", [])
    url = site.route("/quiet.xml", conditional(empty, '"v1"', "Mon, 07 Dec 2026 10:00:00 GMT"))
    config_path = write_config(tmp_path / "cli")
    run = Cli(config_path)
    run("feeds", "add", url)
    report = run.json("ingest", "--json")
    assert report["feeds_ok"] == 1 and report["articles_new"] == 0
    assert "no entries" in report["warnings"][url]

    for _ in range(2):  # the first read, then a 304: the warning stays
        feed = run.json("feeds", "list", "--json")[0]
        assert feed["status"] == "warning" and "lists no entries" in feed["warning"], feed
        table = run("feeds", "list").stdout
        assert "warning" in table and "no entries" in " ".join(table.split()), table
        run("ingest")
    assert len(site.hits("/quiet.xml")) == 3

    desk = Newsdesk(load_config(config_path), embedder=HashEmbedder())
    try:
        embed = render.feeds_embed(desk.archive.list_feeds())
        assert "lists no entries" in (embed.description or "")
    finally:
        desk.close()

    # entries arrive: the warning goes
    site.serve("/quiet.xml", rss20("Quiet Quarterly", [Item("At last", "A story.", guid="s1", date=datetime.now(UTC))]))
    run("ingest")
    feed = run.json("feeds", "list", "--json")[0]
    assert feed["status"] == "ok" and feed["warning"] is None and feed["articles"] == 1
