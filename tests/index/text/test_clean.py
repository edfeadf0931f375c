"""index.clean: HTML to paragraphs, trailers, canonical URLs, teasers, mojibake."""

from __future__ import annotations

import pytest

from index.text.clean import (
    canonical_url,
    content_hash,
    html_to_text,
    looks_truncated,
    normalise_text,
    strip_trailers,
)


def test_paragraphs_kept_and_scripts_dropped():
    markup = (
        "<p>First paragraph.</p><script>var secret = 'evil';</script><style>p { color: red }</style>"
        "<p>Second <b>bold</b> paragraph.</p><noscript>enable js</noscript><iframe src=x>frame</iframe>"
    )
    assert html_to_text(markup) == "First paragraph.\n\nSecond bold paragraph."


def test_headings_and_lists_become_blocks():
    text = html_to_text("<h2>Title</h2><p>Body.</p><ul><li>one</li><li>two</li></ul>")
    assert text.split("\n\n") == ["Title", "Body.", "one", "two"]


def test_wordpress_trailer_is_removed():
    markup = (
        "<p>The council met on Tuesday.</p><p>It voted for the plan.</p>"
        '<p>The post <a href="https://lv.example/x">Council votes</a> appeared first on '
        '<a href="https://lv.example">Left Voice</a>.</p>'
    )
    assert html_to_text(markup) == "The council met on Tuesday.\n\nIt voted for the plan."


def test_inline_wordpress_trailer_is_removed():
    assert html_to_text("<p>Body text here. The post Hello appeared first on Some Site.</p>") == "Body text here."


@pytest.mark.parametrize(
    "trailer",
    [
        "Continue reading...",
        "Read more",
        "Read the full story",
        "[…]",
        "This article originally appeared on Example News.",
    ],
)
def test_other_trailers(trailer):
    assert html_to_text(f"<p>The story.</p><p>{trailer}</p>") == "The story."


def test_trailer_words_inside_the_story_stay():
    text = "Read more about it, the minister said, and more was read.\n\nThe end."
    assert strip_trailers(text) == text


def test_plain_text_and_entities():
    assert html_to_text("Caf&eacute; &amp; bar") == "Café & bar"
    assert html_to_text("<p>Caf&eacute;\u00a0 au\u00a0lait\x07</p>") == "Café au lait"
    assert html_to_text("") == ""


def test_mojibake_is_fixed():
    assert normalise_text("ActualitÃ©s") == "Actualités"
    assert html_to_text("<p>ActualitÃ©s du jour</p>") == "Actualités du jour"


def test_canonical_url_drops_tracking_and_fragment():
    url = "HTTPS://Example.COM:443/Path/Story?utm_source=x&id=5&fbclid=abc&utm_campaign=y#comments"
    assert canonical_url(url) == "https://example.com/Path/Story?id=5"


def test_canonical_url_keeps_other_params_in_order():
    assert canonical_url("https://example.com/?q=a+b&ref=rss&page=2&gclid=1") == "https://example.com/?q=a+b&page=2"


def test_canonical_url_ports():
    assert canonical_url("http://Example.com:80/a") == "http://example.com/a"
    assert canonical_url("https://example.com:443/a") == "https://example.com/a"
    assert canonical_url("http://example.com:8080/a#x") == "http://example.com:8080/a"
    assert canonical_url("https://example.com:80/a") == "https://example.com:80/a"
    assert canonical_url("https://example.com") == "https://example.com/"


def test_canonical_url_ipv6_keeps_brackets():
    assert canonical_url("http://[::1]:8080/x?a=1") == "http://[::1]:8080/x?a=1"
    assert canonical_url("http://[2001:DB8::1]/x") == "http://[2001:db8::1]/x"


def test_canonical_url_odd_input():
    assert canonical_url("") == ""
    assert canonical_url("  https://example.com/a  ") == "https://example.com/a"
    assert canonical_url("http://[::1") == "http://[::1"  # unparseable: returned as it is


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He said more…", True),
        ("The council voted...", True),
        ("Read the full story [...]", True),
        ("Something happened. Read more", True),
        ("Continue reading →", True),
        ("A complete sentence.", False),
        ("It ended with a question?", False),
        ("", False),
    ],
)
def test_looks_truncated(text, expected):
    assert looks_truncated(text) is expected


def test_content_hash_ignores_case_and_punctuation():
    assert content_hash("Hello, World!") == content_hash("hello world")
    assert content_hash("Hello world") != content_hash("Hello there world")
