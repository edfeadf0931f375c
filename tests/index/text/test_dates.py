"""index.dates: windows named in words, explicit bounds, as-of moments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from index.errors import BadQuery, NewsdeskError
from index.text.dates import check_order, named_window, parse_moment, resolve_time, year_labels, year_preference

UTC = UTC
AS_OF = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)  # a Wednesday


def start(y, m, d):
    return datetime(y, m, d, tzinfo=UTC)


def end(y, m, d):
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    "question, window",
    [
        ("What happened this week?", (start(2024, 3, 6), end(2024, 3, 13))),
        ("What happened yesterday?", (start(2024, 3, 12), end(2024, 3, 12))),
        ("What was in the news last month?", (start(2024, 2, 1), end(2024, 2, 29))),
        ("What happened in March 2024?", (start(2024, 3, 1), end(2024, 3, 31))),
        ("What has happened since Monday?", (start(2024, 3, 11), end(2024, 3, 13))),
        ("Which strikes happened in the past two weeks?", (start(2024, 2, 28), end(2024, 3, 13))),
        ("Who won elections in 2023?", (start(2023, 1, 1), end(2023, 12, 31))),
        ("During June 2022: what did the central bank do?", (start(2022, 6, 1), end(2022, 6, 30))),
    ],
)
def test_windows_named_in_words(question, window):
    intent = resolve_time(question, AS_OF)
    assert intent.window == window
    assert intent.as_of == AS_OF
    assert intent.until == AS_OF  # nothing after the as-of moment, ever
    assert intent.since is None


def test_this_week_prefers_recent_and_drops_the_time_words():
    intent = resolve_time("What happened with the ferry this week?", AS_OF)
    assert intent.prefer_recent is True
    assert "week" not in intent.query and "ferry" in intent.query


def test_month_name_is_removed_from_the_query():
    intent = resolve_time("What happened to the ferry in March 2024?", AS_OF)
    assert intent.phrase == "March 2024"
    assert "March" not in intent.query and "2024" not in intent.query
    assert "ferry" in intent.query
    assert intent.prefer_recent is False


def test_framing_prefix_is_removed():
    intent = resolve_time("During June 2022: what did the central bank do?", AS_OF)
    assert intent.query == "what did the central bank do?"


def test_asked_about_the_news_of_a_day():
    intent = resolve_time("What did the central bank do? — asked about the news of June 16, 2022", AS_OF)
    assert intent.day == end(2022, 6, 16)
    assert intent.window[0] <= start(2022, 6, 16) and intent.window[1] >= end(2022, 6, 16)
    assert intent.window == (start(2022, 6, 9), end(2022, 6, 17))
    assert intent.query == "What did the central bank do?"


def test_on_a_day_with_comma():
    as_of = datetime(2025, 8, 1, tzinfo=UTC)
    intent = resolve_time("On 24 July 2025, what happened to the ferry?", as_of)
    assert intent.day == end(2025, 7, 24)
    assert intent.window == (start(2025, 7, 17), end(2025, 7, 25))
    assert intent.query == "what happened to the ferry?"


def test_a_named_time_after_the_as_of_moment_is_ignored():
    intent = resolve_time("On 24 July 2025, what happened to the ferry?", AS_OF)
    assert intent.window is None and intent.day is None
    intent = resolve_time("What happens in 2030?", AS_OF)
    assert intent.window is None


def test_no_time_words_no_window():
    intent = resolve_time("Who won the chess championship?", AS_OF)
    assert intent.window is None and intent.day is None and intent.phrase is None
    assert intent.query == "Who won the chess championship?"


def test_explicit_since_and_until_are_hard_bounds():
    since, until = start(2024, 1, 1), end(2024, 2, 1)
    intent = resolve_time("What happened in March 2024?", AS_OF, since, until)
    assert intent.since == since
    assert intent.until == until  # earlier than as_of: wins
    assert intent.window == (start(2024, 3, 1), end(2024, 3, 31))  # the words stay a soft preference
    later = resolve_time("anything", AS_OF, None, end(2030, 1, 1))
    assert later.until == AS_OF  # never past the as-of moment


def test_since_after_until_is_a_bad_query():
    with pytest.raises(BadQuery, match="since is after until"):
        resolve_time("x", AS_OF, start(2024, 3, 2), start(2024, 3, 1))


def test_parse_moment_forms():
    assert parse_moment("2024-03-15") == start(2024, 3, 15)
    assert parse_moment("2024-03-15", end_of_day=True) == end(2024, 3, 15)  # a date-only as-of: end of day
    assert parse_moment("2024-03") == start(2024, 3, 1)
    assert parse_moment("2024-02", end_of_day=True) == end(2024, 2, 29)
    assert parse_moment("2024", end_of_day=True) == end(2024, 12, 31)
    assert parse_moment("2024-03-15T10:30:00Z") == datetime(2024, 3, 15, 10, 30, tzinfo=UTC)
    assert parse_moment("2024-03-15T10:30:00") == datetime(2024, 3, 15, 10, 30, tzinfo=UTC)
    assert parse_moment(date(2024, 3, 15), end_of_day=True) == end(2024, 3, 15)
    assert parse_moment(datetime(2024, 3, 15, 8)) == datetime(2024, 3, 15, 8, tzinfo=UTC)
    assert parse_moment("March 3, 2024", end_of_day=True) == end(2024, 3, 3)
    assert parse_moment("yesterday", relative_to=AS_OF).date() == date(2024, 3, 12)
    assert parse_moment(None) is None and parse_moment("") is None


@pytest.mark.parametrize("value", ["garbage zzz", "the thirtieth of Febtember", "2024-13-45", "x" * 101, "!!!"])
def test_parse_moment_garbage_is_a_bad_query(value):
    with pytest.raises(BadQuery) as info:
        parse_moment(value, name="since")
    assert str(info.value).startswith("since:")
    assert isinstance(info.value, NewsdeskError)


@pytest.mark.parametrize(
    "question, years",
    [
        ("Which team won the 2022 NHL Stanley Cup Finals?", (2022,)),
        ("Which country won Eurovision 2023?", (2023,)),
        ("Donald Trump's 2024 pitch includes a promise to do what?", (2024,)),
        ("How did abortion rates change between 2021 and 2022?", (2021, 2022)),
        ("Where will the 2028 Olympics be held?", (2028,)),
        ("Who paid $2022 for the painting?", ()),  # money, not a year
        ("What rose 2025% in a day?", ()),  # a percentage
        ("What is in file report-2023.pdf?", ()),  # part of a name
        ("What happened on 2023-05-04?", ()),  # a date, handled as a date
        ("How many people were hurt?", ()),
        ("Which plan runs to 2040?", ()),  # too far past the as-of year to be coverage
    ],
)
def test_years_used_as_labels(question, years):
    assert year_labels(question, AS_OF) == years


def test_a_year_label_survives_but_a_named_year_becomes_a_window():
    labelled = resolve_time("Which team won the 2022 Stanley Cup?", AS_OF)
    assert labelled.years == (2022,) and labelled.window is None
    named = resolve_time("What did Apple launch in 2023?", AS_OF)
    assert named.window == (start(2023, 1, 1), end(2023, 12, 31)) and named.years == ()


def test_a_year_label_prefers_its_run_up_and_look_back():
    assert year_preference((2024,)) == [(start(2023, 7, 1), start(2025, 4, 1))]
    assert year_preference(()) == []


def test_check_order_is_the_one_window_check():
    early, late = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    check_order(early, late)
    check_order(early, early)  # one instant is a window
    check_order(None, early)
    check_order(late, None)
    with pytest.raises(BadQuery, match="since is after until"):
        check_order(late, early)


def test_named_window_is_a_whole_month_or_week():
    as_of = datetime(2026, 2, 11, 12, tzinfo=UTC)
    assert named_window("January 2026", as_of) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert named_window("feb. 2026", as_of) == (datetime(2026, 2, 1, tzinfo=UTC), as_of)  # not over yet
    start, end = named_window("week of 2026-02-04", as_of)
    assert (start.date(), end.date()) == (date(2026, 2, 2), date(2026, 2, 8))  # Monday to Sunday
    for moment in ("2026-02-09", "yesterday", "last week", "", None, "February"):
        assert named_window(moment, as_of) is None
