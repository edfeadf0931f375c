"""SSRF guard: private, loopback, link-local and metadata addresses are refused unless
feeds.allow_private_networks is set, at add time and on every redirect hop at fetch time."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from support.archive import feed_row
from support.feeds import Item, rss20
from support.http import HTTPTestServer, redirect, send
from support.loopback import refuse_off_machine

import index.feeds.netguard as netguard
from index.errors import FetchError, UrlRefused
from index.feeds.fetch import Fetcher
from index.feeds.netguard import check_url

PRIVATE_URLS = [
    "http://127.0.0.1/feed.xml",
    "http://127.1.2.3:8080/feed.xml",
    "http://10.1.2.3/feed.xml",
    "http://172.16.0.9/rss",
    "http://192.168.1.1/rss",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://100.64.0.1/feed",
    "http://[::1]/feed.xml",
    "http://[::ffff:127.0.0.1]/feed.xml",
    "http://[fd00:ec2::254]/latest/",
    "http://[fe80::1]/feed",
    "http://0.0.0.0/feed.xml",
    "http://localhost/feed.xml",
    # IPv6 forms that carry and route to an IPv4 address: the IPv4 one is what is checked
    "http://[2002:7f00:1::]/feed.xml",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4 of 169.254.169.254
    "http://[2002:c0a8:101::1]/rss",  # 6to4 of 192.168.1.1
    "http://[64:ff9b::7f00:1]/feed.xml",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/feed.xml",  # local-use NAT64 of 10.0.0.1
    "http://[::127.0.0.1]/feed.xml",  # IPv4-compatible
    "http://[::ffff:0:a9fe:a9fe]/latest/",  # IPv4-translated 169.254.169.254
]
# spellings the system resolver may or may not accept: refused either way
ODD_SPELLINGS = [
    "http://2130706433/feed.xml",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/feed.xml",  # and in hex shorthand
    "http://LOCALHOST.:8000/feed.xml",
]


@pytest.fixture
def strict(config):
    return dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, allow_private_networks=False))


@pytest.mark.parametrize("url", PRIVATE_URLS + ODD_SPELLINGS)
def test_private_addresses_are_refused_at_add_time(make_desk, strict, url):
    desk = make_desk(strict)
    with pytest.raises(
        UrlRefused, match="allow_private_networks" if url in PRIVATE_URLS else "allow_private_networks|cannot resolve"
    ):
        desk.feeds.add(url)
    assert desk.archive.list_feeds() == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/feed.xml",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "feed.xml",
        "http:///nohost",
        "http://[::1/",
    ],
)
def test_other_schemes_and_broken_urls_are_refused_even_when_private_is_allowed(make_desk, config, url):
    desk = make_desk(config)  # allow_private_networks = True
    with pytest.raises(UrlRefused):
        desk.feeds.add(url)
    assert desk.archive.list_feeds() == []


def test_a_host_that_does_not_resolve_is_refused_with_a_clear_message(strict):
    with pytest.raises(UrlRefused, match="cannot resolve host 'no-such-host.invalid'"):
        check_url("http://no-such-host.invalid/feed.xml", allow_private=False)


def test_fetching_a_private_address_is_refused_before_any_connection(site, strict):
    url = site.serve("/secret.xml", rss20("Secret", [Item("s", "s", link="http://x.example/", guid="s")]))
    with Fetcher(strict.feeds) as f:
        with pytest.raises(UrlRefused, match="loopback"):
            f.get(url)
    assert site.hits("/secret.xml") == []


@pytest.fixture(autouse=True)
def off_machine(monkeypatch) -> list[str]:
    """No test here ever connects off the machine (support.loopback); the addresses refused."""
    return refuse_off_machine(monkeypatch)


@pytest.fixture
def public_looking_server(monkeypatch):
    """A server on 127.0.0.2 that the guard is told is a public address; 127.0.0.1 stays what it
    is, a loopback address. The guard's verdict is what is changed, not the resolver's answer:
    the fetcher connects to the address it checked, and that must stay on this machine."""
    server = HTTPTestServer(host="127.0.0.2")
    real_problem = netguard.address_problem

    def address_problem(ip):
        return None if ip == ipaddress.ip_address("127.0.0.2") else real_problem(ip)

    monkeypatch.setattr(netguard, "address_problem", address_problem)
    yield server
    server.close()


def test_a_public_url_that_redirects_to_a_private_address_is_refused_at_fetch_time(
    public_looking_server, site, strict, make_desk
):
    secret = site.serve(
        "/internal/secret.xml",
        rss20("Internal", [Item("Internal memo", "secret text", link="http://x.example/", guid="m")]),
    )
    public_looking_server.route("/feed.xml", redirect(secret))
    public_looking_server.route(
        "/fine.xml",
        lambda req: send(
            req,
            200,
            rss20(
                "Fine",
                [
                    Item(
                        "Fine story",
                        "A story from the public server that is long enough to keep "
                        "as it is in the archive without fetching its page at all.",
                        link=public_looking_server.url("/fine.html"),
                        guid="fine-1",
                    )
                ],
            ),
        ),
    )
    desk = make_desk(strict)
    bad, _ = desk.feeds.add(public_looking_server.url("/feed.xml"))  # the first hop looks public: accepted
    fine, _ = desk.feeds.add(public_looking_server.url("/fine.xml"))
    report = desk.indexing.ingest()
    assert "127.0.0.1" in report.errors[bad.url] and "loopback" in report.errors[bad.url]
    assert site.hits("/internal/secret.xml") == []  # never connected
    assert feed_row(desk, bad.url)["status"] == "error"
    assert report.articles_new == 1 and desk.feeds.find(fine.url).articles == 1
    titles = {r[0] for r in desk.archive.db.execute("SELECT title FROM articles")}
    assert "Internal memo" not in titles


def test_a_teaser_whose_page_link_is_private_is_kept_without_fetching_the_page(
    public_looking_server, site, strict, make_desk
):
    page = site.serve(
        "/internal/page.html", b"<html><body><p>internal page</p></body></html>", content_type="text/html"
    )
    public_looking_server.route(
        "/teaser.xml",
        lambda req: send(
            req, 200, rss20("Teasers", [Item("A teaser", "The start of a story that goes on…", link=page, guid="t1")])
        ),
    )
    desk = make_desk(strict)
    desk.feeds.add(public_looking_server.url("/teaser.xml"))
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and not report.errors
    assert site.hits("/internal/page.html") == []
    row = desk.archive.db.execute("SELECT text, text_source FROM articles").fetchone()
    assert row[1].startswith("feed-summary") and "internal page" not in row[0]


def test_redirect_hops_are_checked_by_the_fetcher_directly(public_looking_server, site, strict):
    target = site.serve("/private.xml", b"<rss/>")
    public_looking_server.route("/hop.xml", redirect(target, status=307))
    with Fetcher(strict.feeds) as f:
        with pytest.raises(UrlRefused, match="loopback"):
            f.get(public_looking_server.url("/hop.xml"))
    assert site.hits("/private.xml") == []
    assert len(public_looking_server.requests_to("/hop.xml")) == 1  # refused, not retried


def test_allowing_private_networks_lets_loopback_through(site, config):
    url = site.serve("/ok.xml", rss20("OK", [Item("a", "b", link="http://x.example/", guid="g")]))
    with Fetcher(config.feeds) as f:
        assert f.get(url).status == 200
    with pytest.raises(FetchError):
        with Fetcher(dataclasses.replace(config.feeds, retries=0)) as f:
            f.get(site.url("/missing.xml"))


def test_embedded_ipv4_forms_are_named_in_the_refusal():
    with pytest.raises(UrlRefused, match=r"6to4 address of 127\.0\.0\.1, a loopback address"):
        check_url("http://[2002:7f00:1::]/", allow_private=False)
    with pytest.raises(UrlRefused, match=r"6to4 address of 169\.254\.169\.254, a cloud metadata address"):
        check_url("http://[2002:a9fe:a9fe::]/", allow_private=False)
    # a 6to4 form of a public address is as public as the address
    assert netguard.address_problem(ipaddress.ip_address("2002:5db8:d822::1")) is None


@pytest.fixture
def rebinding(monkeypatch, site):
    """``rebind.test`` answers a public address to its first lookup and 127.0.0.1 to every later
    one (the system resolver is replaced; other names resolve as usual). Returns the answers given."""
    answers: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        answers.append("93.184.216.34" if not answers else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answers[-1], int(port or 80)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_a_name_that_rebinds_to_loopback_after_the_check_reaches_nothing(site, strict, rebinding, off_machine):
    site.serve("/internal/admin.xml", rss20("Internal", [Item("Internal memo", "secret", link="http://x/", guid="m")]))
    port = urlsplit(site.url("/")).port
    url = f"http://rebind.test:{port}{site.path('/internal/admin.xml')}"
    with Fetcher(dataclasses.replace(strict.feeds, retries=0)) as f:
        with pytest.raises(FetchError):
            f.get(url)
    assert site.hits("/internal/admin.xml") == []  # the loopback page was never fetched
    assert rebinding == ["93.184.216.34"]  # resolved once, for the check and the connection
    assert off_machine == ["93.184.216.34"]  # the connect went to the checked address (and the net stopped it)


def test_a_redirect_to_a_rebinding_name_is_resolved_once_too(
    public_looking_server, site, strict, rebinding, off_machine
):
    site.serve("/internal/admin.xml", b"<rss/>")
    port = urlsplit(site.url("/")).port
    public_looking_server.route("/hop.xml", redirect(f"http://rebind.test:{port}{site.path('/internal/admin.xml')}"))
    with Fetcher(dataclasses.replace(strict.feeds, retries=0)) as f:
        with pytest.raises(FetchError):
            f.get(public_looking_server.url("/hop.xml"))
    assert site.hits("/internal/admin.xml") == []
    assert rebinding == ["93.184.216.34"] and off_machine == ["93.184.216.34"]
