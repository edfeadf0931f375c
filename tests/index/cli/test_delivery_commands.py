"""`newsdesk feeds filter|why|limits`: the delivery verbs on the command line, over a real archive."""

from __future__ import annotations

import support.answers as H
from support.cli import Cli, write_config


def test_filter_add_list_test_remove_why_and_limits(tmp_path):
    served = H.serve_feeds()
    run = Cli(write_config(tmp_path / "cli"))
    run("feeds", "add", served.gazette.url, "--name", H.GAZETTE)
    run("ingest", "--json")

    assert (
        'include title words "glacier, ferry"'
        in run("feeds", "filter", "add", "1", "include", "glacier, ferry", "--field", "title").stdout
    )
    bad = run("feeds", "filter", "add", "1", "exclude", "ice(", "--regex", code=1)
    assert "bad regular expression 'ice('" in bad.output
    assert run("feeds", "filter", "list", "1").stdout.count("\n") == 1

    out = run("feeds", "filter", "test", "1").stdout.splitlines()
    passing = [line for line in out if line.startswith("pass")]
    assert {("Glacier" in line) or ("ferry" in line) for line in passing} == {True} and len(passing) == 2
    assert all("matched no include filter" in line for line in out if line.startswith("FAIL"))
    assert out[-1] == f"2 of {len(H.GAZETTE_STORIES)} would be posted"

    why = run("feeds", "why", served.links["glacier"]).stdout
    assert "Glacier researchers" in why and "none — the feed does not post to a channel" in why

    assert "removed filter all" in run("feeds", "filter", "remove", "1", "all").stdout
    assert "no filters" in run("feeds", "filter", "list", "1").stdout
    run("feeds", "filter", "remove", "1", "7", code=1)

    assert (
        "at most 3 posts per 10 min; held back now: 0"
        in run("feeds", "limits", "42", "--per-window", "3", "--window-minutes", "10").stdout
    )
    assert "channel 42: at most 3 posts per 10 min" in run("feeds", "limits", "42").stdout
    assert "needs a window" in run("feeds", "limits", "42", "--per-window", "3", "--window-minutes", "0", code=1).output
    summary = run("feeds", "limits", "42", "--summarise-over", "5").stdout
    assert "past 5 new articles in one pass, a one-line summary instead of posts" in summary
    assert "cannot be negative" in run("feeds", "limits", "42", "--summarise-over", "-1", code=1).output


def test_template_set_preview_show_clear(tmp_path):
    served = H.serve_feeds()
    run = Cli(write_config(tmp_path / "cli"))
    run("feeds", "add", served.gazette.url, "--name", H.GAZETTE)
    run("ingest", "--json")
    assert "unknown placeholder {headline}" in run("feeds", "template", "set", "1", "{headline}", code=1).output
    assert "default teaser" in run("feeds", "template", "show", "1").stdout
    run("feeds", "template", "set", "1", "{outlet}: {title} ({published:%Y})", "--style", "text")
    preview = run("feeds", "template", "preview", "1").stdout.strip()
    assert preview.startswith(f"{H.GAZETTE}: ") and preview.endswith(")")
    assert run("feeds", "template", "preview", "1", "<{url}>").stdout.strip().startswith("<http://127.0.0.1")
    assert "text UTC: {outlet}: {title} ({published:%Y})" in run("feeds", "template", "show", "1").stdout
    run("feeds", "template", "clear", "1")
    assert "default teaser" in run("feeds", "template", "show", "1").stdout


def test_options_discover_and_pings(tmp_path):
    served = H.serve_feeds()
    run = Cli(write_config(tmp_path / "cli"))
    run("feeds", "add", served.gazette.url, "--name", H.GAZETTE)
    assert (
        "thread on; updates edit; forum title {outlet}: {title}; forum tags Transit=tram"
        in run(
            "feeds",
            "options",
            "1",
            "--thread",
            "--updates",
            "edit",
            "--forum-title",
            "{outlet}: {title}",
            "--forum-tags",
            "Transit=tram",
        ).stdout
    )
    assert "unknown placeholder {x}" in run("feeds", "options", "1", "--forum-title", "{x}", code=1).output
    assert run("feeds", "discover", served.gazette.url).stdout.startswith(served.gazette.url + "\t")
    assert "https://www.reddit.com/r/python/.rss" in run("feeds", "discover", "https://www.reddit.com/r/python").stdout
    # pings belong to a server's own feeds; a global feed refuses them
    assert "only a server's own feeds" in run("feeds", "ping", "add", "1", "42", code=1).output
    assert "no role is mentioned" in run("feeds", "ping", "list", "1").stdout
