"""Retrieval over a small real archive (RSS over HTTP -> SQLite + embedded Chroma, HashEmbedder)."""

from __future__ import annotations

from datetime import datetime

import pytest
import support.answers as H

from index.errors import BadQuery, NewsdeskError
from index.search import retriever as retrieval


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


@pytest.fixture
def desk(archive):
    return archive[0]


@pytest.fixture
def links(archive):
    return archive[1].links


def ts(published: str) -> float:
    return datetime.fromisoformat(published).timestamp()


def slug_of(links, url: str) -> str:
    return next(s for s, u in links.items() if u == url)


@pytest.mark.parametrize(
    "query, slug",
    [
        ("record ice loss on the Greenland glacier", "glacier"),
        ("twelve year old chess prodigy", "chess"),
        ("wildfire destroyed vineyards", "wildfire"),
        ("sourdough bread recall sesame allergy", "bakery"),
        ("water vapour exoplanet telescope", "exoplanet"),
        ("free orchestra concerts in the park", "orchestra"),
        ("rail freight strike over pay", "strike"),
        ("honey harvest beekeepers", "honey"),
    ],
)
def test_top_hit_is_the_article_on_the_topic(desk, links, query, slug):
    result = desk.retriever.search(query)
    assert result.hits, query
    assert result.hits[0].article.url == links[slug]
    assert result.hits[0].score > 0


def test_results_are_distinct_articles(desk):
    result = desk.retriever.search("electric ferry bay strike honey chess", limit=20)
    ids = [h.article.id for h in result.hits]
    also = [a.id for h in result.hits for a in h.also]
    assert len(ids) == len(set(ids))
    assert not set(ids) & set(also)
    assert len(ids) + len(also) == len(set(ids) | set(also))
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    # each hit carries a passage of its own article
    for h in result.hits:
        assert h.passage.article_id == h.article.id
        assert all(p.article_id == h.article.id for p in h.passages)


def test_limit(desk):
    assert len(desk.retriever.search("news", limit=3).hits) <= 3
    assert len(desk.retriever.search("ferry chess wildfire honey strike", limit=1).hits) == 1


def test_near_duplicates_are_grouped(desk, links):
    result = desk.retriever.search("electric ferry across the bay")
    top = result.hits[0]
    ferry_urls = {links["ferry"], links["ferry-wire"]}
    assert top.article.url in ferry_urls
    assert [a.url for a in top.also] == list(ferry_urls - {top.article.url})
    assert {top.article.outlet, top.also[0].outlet} == {H.GAZETTE, H.COURIER}
    assert not any(h.article.url in ferry_urls for h in result.hits[1:])
    as_dict = top.to_dict()
    assert as_dict["also"][0]["url"] in ferry_urls


def test_as_of_excludes_later_articles(desk, links):
    result = desk.retriever.search("wildfire destroyed vineyards", as_of="2024-03-19")
    assert links["wildfire"] not in {h.article.url for h in result.hits}
    limit = ts("2024-03-19T23:59:59.999999+00:00")
    assert all(h.article.published_ts <= limit for h in result.hits)  # unrelated articles may score 0 and drop
    assert all(a.published_ts <= limit for h in result.hits for a in h.also)


def test_date_only_as_of_means_the_end_of_that_day(desk, links):
    # the wildfire story was published at noon on 2024-03-20
    result = desk.retriever.search("wildfire destroyed vineyards", as_of="2024-03-20")
    assert result.hits[0].article.url == links["wildfire"]


def test_since_and_until_are_hard_filters(desk, links):
    result = desk.retriever.search("twelve year old chess prodigy", since="2024-04-01")
    assert links["chess"] not in {h.article.url for h in result.hits}
    assert all(h.article.published_ts >= ts("2024-04-01T00:00:00+00:00") for h in result.hits)

    result = desk.retriever.search("honey harvest beekeepers", until="2024-02-29")
    assert links["honey"] not in {h.article.url for h in result.hits}
    assert all(h.article.published_ts <= ts("2024-02-29T23:59:59+00:00") for h in result.hits)

    result = desk.retriever.search("news", since="2024-03-01", until="2024-03-31", limit=20)
    assert {slug_of(links, h.article.url) for h in result.hits} <= {"chess", "wildfire"}


def test_until_is_inclusive_of_the_whole_day(desk, links):
    result = desk.retriever.search("wildfire destroyed vineyards", since="2024-03-20", until="2024-03-20")
    assert [h.article.url for h in result.hits] == [links["wildfire"]]


def test_since_after_until_is_a_bad_query(desk):
    with pytest.raises(BadQuery, match="since is after until"):
        desk.retriever.search("ferry", since="2024-05-01", until="2024-04-01")


def test_unreadable_dates_are_bad_queries(desk):
    with pytest.raises(BadQuery, match="since"):
        desk.retriever.search("ferry", since="the day after never")
    with pytest.raises(BadQuery, match="as-of"):
        desk.retriever.search("ferry", as_of="not a date at all")


def test_source_filters(desk):
    result = desk.retriever.search("electric ferry across the bay", source="courier", limit=20)
    assert result.hits and {h.article.outlet for h in result.hits} == {H.COURIER}
    assert all(a.outlet == H.COURIER for h in result.hits for a in h.also)
    result = desk.retriever.search("electric ferry across the bay", source="Harbor Gazette", limit=20)
    assert result.hits and {h.article.outlet for h in result.hits} == {H.GAZETTE}


def test_unknown_source_lists_the_known_ones(desk):
    with pytest.raises(BadQuery) as info:
        desk.retriever.search("ferry", source="Daily Planet")
    message = str(info.value)
    assert "Daily Planet" in message
    assert H.GAZETTE in message and H.COURIER in message


@pytest.mark.parametrize("outlet", [H.GAZETTE, H.COURIER])
def test_a_question_naming_an_outlet_prefers_it(desk, outlet):
    result = desk.retriever.search(f"electric ferry in the {outlet}")
    assert result.hits[0].article.outlet == outlet


def test_outlet_boost_is_a_multiplier(desk, monkeypatch):
    question = "rail strike and electric ferry in the Valley Courier"
    boost = retrieval.OUTLET_BOOST
    assert boost > 1.0
    boosted = {
        h.article.id: (h.score, h.article.outlet)
        for h in desk.retriever.search(question, group_stories=False, limit=50).hits
    }
    monkeypatch.setattr(retrieval, "OUTLET_BOOST", 1.0)
    plain = {h.article.id: h.score for h in desk.retriever.search(question, group_stories=False, limit=50).hits}
    assert set(boosted) == set(plain)
    checked = 0
    for aid, (score, outlet) in boosted.items():
        if plain[aid] > 0:
            expected = boost if outlet == H.COURIER else 1.0
            assert score / plain[aid] == pytest.approx(expected), outlet
            checked += outlet == H.COURIER
    assert checked >= 2


def test_a_named_month_is_a_soft_preference(desk, links):
    """Inside the window the question names, relevance is doubled; outside, unchanged (and still found)."""
    plain = {
        h.article.url: h.score
        for h in desk.retriever.search("vineyards chess glacier", group_stories=False, limit=50).hits
    }
    dated = desk.retriever.search("vineyards chess glacier in March 2024", group_stories=False, limit=50)
    assert dated.intent.query == "vineyards chess glacier"
    assert dated.intent.window is not None
    scores = {h.article.url: h.score for h in dated.hits}
    assert set(scores) == set(plain)
    for url, score in scores.items():
        factor = 1.0 + retrieval.WINDOW_BOOST if url in (links["chess"], links["wildfire"]) else 1.0
        assert score == pytest.approx(plain[url] * factor)
    assert links["glacier"] in scores  # January: outside the window, still a result


def test_a_named_day_boosts_that_day_most(desk, links):
    result = desk.retriever.search("vineyards chess — asked about the news of March 20, 2024")
    assert result.intent.day is not None
    assert result.hits[0].article.url == links["wildfire"]


def test_latest_is_newest_first(desk, links):
    hits = desk.reading.latest()
    dates = [h.article.published_ts for h in hits]
    assert dates == sorted(dates, reverse=True)
    assert hits[0].article.url == links["honey"]
    hits = desk.reading.latest(as_of="2024-03-31")
    assert hits[0].article.url == links["wildfire"]
    hits = desk.reading.latest(source="gazette")
    assert hits and {h.article.outlet for h in hits} == {H.GAZETTE}
    assert hits[0].article.url == links["exoplanet"]


def test_latest_on_a_topic(desk, links):
    hits = desk.reading.latest("electric ferry")
    assert hits and hits[0].article.url in (links["ferry"], links["ferry-wire"])


def test_latest_groups_the_syndicated_copy(desk, links):
    hits = desk.reading.latest(limit=50)
    urls = [h.article.url for h in hits]
    assert (links["ferry"] in urls) != (links["ferry-wire"] in urls)
    assert len(urls) + sum(len(h.also) for h in hits) == len(H.ALL_SLUGS)


def test_search_errors_are_newsdesk_errors(desk):
    for bad in ("", "   ", "?!?"):
        with pytest.raises(NewsdeskError):
            desk.retriever.search(bad)


def test_markup_pasted_with_a_question_is_not_searched(desk, links):
    result = desk.retriever.search(
        'Record ice loss on <a data-analytics-id="inline-link" href="https://x.example/'
        'tag/greenland">the Greenland glacier</a> &amp; its meltwater'
    )
    assert result.intent.query == "Record ice loss on the Greenland glacier & its meltwater"
    assert result.hits[0].article.url == links["glacier"]
    with pytest.raises(BadQuery):
        desk.retriever.search("<b></b> <br/>")


LANTERN = "The lantern festival crowned its champion lantern maker after a night parade along the river."


def test_a_year_used_as_a_label_prefers_coverage_around_it(tmp_path):
    """Two briefs on a recurring event, two years apart. A year label prefers coverage from its
    run-up to its look back: "2023" the September 2022 brief, "2025" the September 2024 one (years
    that appear in neither passage's date header, so only the preference can tell them apart)."""
    desk, served = H.build_desk(
        tmp_path / "data",
        extra_gazette=[
            ("lantern-2022", "Lantern festival crowns its champion", LANTERN, H.utc(2022, 9, 10)),
            (
                "lantern-2024",
                "Lantern festival crowns its champion",
                LANTERN + " Crowds lined the river.",
                H.utc(2024, 9, 14),
            ),
        ],
    )
    links = served.links

    def top(question):
        hits = desk.retriever.search(question, group_stories=False, limit=5).hits
        return [h.article.url for h in hits if h.article.url in (links["lantern-2022"], links["lantern-2024"])]

    plain = top("Who won the lantern festival champion title?")
    assert len(plain) == 2
    assert top("Who won the 2023 lantern festival champion title?")[0] == links["lantern-2022"]
    assert top("Who won the 2025 lantern festival champion title?")[0] == links["lantern-2024"]
    assert top("Who won the 1990 lantern festival champion title?") == plain


def test_the_year_boost_is_a_multiplier_on_the_time_factor(desk):
    intent = retrieval.resolve_time("Who won the 2022 cup?", datetime(2026, 7, 20).astimezone())
    spans = [(a.timestamp(), b.timestamp()) for a, b in retrieval.year_preference(intent.years)]
    inside, outside = ts("2022-06-01T00:00:00+00:00"), ts("2025-06-01T00:00:00+00:00")
    assert desk.retriever._time_factor(inside, intent, spans) == pytest.approx(1.0 + retrieval.YEAR_BOOST)
    assert desk.retriever._time_factor(outside, intent, spans) == pytest.approx(1.0)
    assert desk.retriever._time_factor(inside, intent, []) == pytest.approx(1.0)


def test_neighbour_similarities_are_stored_for_every_embedded_passage(desk):
    desk.retriever.search("glacier")  # the mirror is loaded and its densities stored
    db = desk.archive.db
    embedded = db.execute("SELECT count(*) FROM passages WHERE embedded = 1").fetchone()[0]
    stored = db.execute("SELECT count(*) FROM passage_neighbours n JOIN passages p ON p.id = n.passage_id").fetchone()[
        0
    ]
    assert embedded > 0 and stored == embedded
