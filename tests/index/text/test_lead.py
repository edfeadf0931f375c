"""Datelines, live-blog furniture and repeated titles cut from the opening a summary shows."""

from __future__ import annotations

import pytest

from index.text.lead import HEAD_CHARS, beyond_title, lead, strip_furniture

FURNITURE = [  # (page text, what a reader should see first)
    ("Feb. 8, 2026, 6:51 p.m. ET Steven Spielberg is back.", "Steven Spielberg is back."),
    ("12:38 am ET February 9, 2026 Share this update What's next for Bad Bunny?", "What's next for Bad Bunny?"),
    ("Updated: March 3, 2026 at 10:15 a.m. EST The council voted.", "The council voted."),
    ("2026-02-09 Officials said the road is open.", "Officials said the road is open."),
    ("9 February 2026 — Markets rallied.", "Markets rallied."),
    ("Monday, Feb. 9, 2026 | 18:05 GMT Rain is coming.", "Rain is coming."),
    ("Share this article Copy link “We will rebuild,” she said.", "“We will rebuild,” she said."),
    ("Listen to this article 4 min read The mayor resigned.", "The mayor resigned."),
]
KEPT = [  # openings that only look like furniture: left whole
    "May 5, 2026 was the wettest day on record.",  # a sentence about a date
    "On Monday, the council met.",  # no date, time or furniture
    "Share prices fell sharply.",  # "Share" alone is a word, not furniture
    "CT scans show the damage.",
    "25 people were hurt.",
    "At 6 pm ET the polls close.",  # what follows is no sentence start: not a dateline
    "",
    "February 9, 2026",  # nothing would be left
]


@pytest.mark.parametrize(("text", "expected"), FURNITURE)
def test_datelines_and_furniture_are_cut(text, expected):
    assert strip_furniture(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_text_that_only_looks_like_a_dateline_is_kept(text):
    assert strip_furniture(text) == text


TITLES = [  # (title, text, what is left)
    (
        "The Pitt notched 25 nominations…",
        "The Pitt notched 25 nominations for the Emmys, a record. Its cast celebrated in Los Angeles.",
        "Its cast celebrated in Los Angeles.",
    ),
    ("Council approves bicycle lanes", "Council approves bicycle lanes. The vote was 7-2.", "The vote was 7-2."),
    ("Council approves bicycle lanes.", "Council  approves\nbicycle lanes. The vote was 7-2.", "The vote was 7-2."),
    ("Council approves bicycle lanes", "Council approves bicycle lanes.", ""),
    ("Volcano erupts near Grindavik", "Lava reached the town on Monday.", "Lava reached the town on Monday."),
    ("Live", "Live coverage continues. More soon.", "Live coverage continues. More soon."),  # too short to tell
    (  # a live-blog entry whose heading is the title's start
        "What's next for Bad Bunny after the halftime show",
        "What's next for Bad Bunny? The singer announced a tour.",
        "The singer announced a tour.",
    ),
    ("Harbour ferry adds a night crossing", "The harbour ferry adds a night crossing from March.", ""),
    (
        "The harbour ferry adds a night crossing",
        "Harbour ferry adds a night crossing. It sails at 11.",
        "It sails at 11.",
    ),
    ("Rates rise again", "Rates rise. Again the bank acted.", "Rates rise. Again the bank acted."),  # too short
]


@pytest.mark.parametrize(("title", "text", "expected"), TITLES)
def test_a_sentence_that_only_repeats_the_title_is_cut(title, text, expected):
    assert beyond_title(text, title) == expected


def test_lead_cuts_the_dateline_then_the_title():
    text = "Feb. 8, 2026, 6:51 p.m. ET The Pitt notched 25 nominations. It leads the field."
    assert lead(text, "The Pitt notched 25 nominations") == "It leads the field."


def test_hostile_text_is_read_only_at_its_head():
    # a long run of tokens and separators: bounded work, and nothing past the head is touched
    text = "Feb. 8, 2026, " * 10_000 + "The end."
    assert strip_furniture(text) == text  # nothing sentence-like within the head: kept whole
    assert strip_furniture("1:00 pm " + "a" * 100_000) == "1:00 pm " + "a" * 100_000
    assert len(text) > HEAD_CHARS
