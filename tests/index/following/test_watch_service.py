"""Standing questions in the service: a watch's answer is stored; a check reports a change only when
new coverage changes the cited answer (renumbered citations are no change), once across desks."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from support.config import make_config
from support.newsroom import STORIES, WIRE_STORIES, make_feed
from support.watching import QUESTION, RELATED, UNRELATED

from index import policy
from index.errors import BadQuery, LimitReached, NotFound, PermissionDenied
from index.following import watches as w
from index.models import Answer, Article, Citation, Scope

_ids = itertools.count(1)


@pytest.fixture
def config(tmp_path):
    """One sentence per answer: a better sentence from new coverage supersedes the old one."""
    base = make_config(tmp_path / "data")
    return dataclasses.replace(base, answers=dataclasses.replace(base.answers, max_sentences=1))


@pytest.fixture
def newsroom(feed_server, make_desk, config):
    prefix = f"/w{next(_ids)}"
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, prefix)
    wire = make_feed(feed_server, "wire", "Wire Service", WIRE_STORIES, prefix)
    desk = make_desk(config)
    desk.feeds.add(planet.url, "Daily Planet")
    desk.feeds.add(wire.url, "Wire Service")
    desk.indexing.ingest()
    return desk, planet


def article(n: int) -> Article:
    return Article(n, f"g{n}", f"http://x/{n}", f"t{n}", "o", (), None, None, "feed", "", None, "", "", "feed")


def test_renumbered_citations_and_reordered_sentences_are_the_same_answer():
    a = Answer(
        "q", "Lava flowed. [1] Residents left! [2]", [Citation(1, article(7), ""), Citation(2, article(9), "")], False
    )
    b = Answer(
        "q", "residents left [1] Lava  flowed [2]", [Citation(1, article(9), ""), Citation(2, article(7), "")], False
    )
    assert w.answer_sentences(a) == [("Lava flowed.", 7), ("Residents left!", 9)]
    assert w.fingerprint(w.answer_sentences(a)) == w.fingerprint(w.answer_sentences(b))
    c = Answer(
        "q", "Lava flowed. [1] The road closed. [2]", [Citation(1, article(7), ""), Citation(2, article(11), "")], False
    )
    new, gone = w.diff(w.answer_sentences(a), w.answer_sentences(c))
    assert new == [("The road closed.", 11)] and gone == ["Residents left!"]
    assert w.fingerprint(w.answer_sentences(a)) != w.fingerprint(w.answer_sentences(c))
    assert w.news_in(new, 10) == [("The road closed.", 11)] and w.news_in(new, 11) == []
    assert w.answer_sentences(Answer("q", "nothing", [], True)) == []


def test_a_reworded_sentence_is_no_news_but_a_new_number_is():
    before = [("Ten people died when the storm hit the coast on Monday.", 1)]
    reworded = [("When the storm hit the coast on Monday, ten people died.", 1)]
    assert w.diff(before, reworded) == ([], [])
    numbers = [("12 people died when the storm hit the coast on Monday.", 2)]
    assert w.diff([("10 people died when the storm hit the coast on Monday.", 1)], numbers) == (
        numbers,
        ["10 people died when the storm hit the coast on Monday."],
    )
    other = [("The harbour reopened on Tuesday after the storm.", 3)]
    assert w.diff(before, other) == (other, [before[0][0]])


def test_a_watch_reports_only_a_change_from_new_coverage_once(newsroom, make_desk, config):
    desk, planet = newsroom
    watch, answer = desk.watches.add(QUESTION)
    assert watch.answer and watch.fingerprint == w.fingerprint(w.answer_sentences(answer))
    assert desk.watches.check() == []  # nothing new: not even re-asked

    planet.add_item(*UNRELATED, slug="ferry")
    desk.indexing.ingest()
    assert desk.watches.check() == []
    assert desk.archive.get_watch(watch.id).seen_article_id == desk.archive.ready_article_id()

    planet.add_item(*RELATED, slug="ended")
    desk.indexing.ingest()
    other = make_desk(config)  # a second process on the same archive, checking at the same time:
    stale = other.archive.get_watch(watch.id)  # it read the watch before the first one claimed the change
    first = desk.watches.check()
    assert len(first) == 1, [c.to_dict() for c in first]
    ready = (other.archive.ready_article_id(), other.archive.ready_update_id())
    late = other.watches._check(stale, ready)  # it finds the same change, but the claim is taken
    assert late is not None and late.fingerprint == first[0].fingerprint and not other.watches.claim(late)
    assert other.watches.check() == []
    change = first[0]
    ended = desk.reading.article(planet.items[-1]["link"])
    assert any(a.id == ended.id for _, a in change.new)
    assert ended.id in [a.id for a in change.new_sources]
    assert change.superseded == [s for s, _ in watch.answer]  # the old sentence, replaced
    stored = desk.archive.get_watch(watch.id)
    assert stored.fingerprint == change.fingerprint and ended.id in [a for _, a in stored.answer]
    assert desk.watches.check() == [] and other.watches.check() == []
    assert [fp for fp, _ in desk.archive.watch_notices(watch.id)] == [change.fingerprint]


def test_an_article_the_feed_republishes_changed_is_new_coverage_too(newsroom):
    desk, planet = newsroom
    planet.add_item(*RELATED, slug="ended")
    desk.indexing.ingest()
    watch, _ = desk.watches.add(QUESTION)
    assert [a for _, a in watch.answer] == [desk.reading.article(planet.items[-1]["link"]).id]
    planet.items[-1]["text"] = (
        "The volcano eruption near Grindavik ended on Thursday, and geologists said a new fissure near Grindavik "
        "could still open: the volcano eruption ended only for now, and Grindavik stays closed to residents."
    )
    planet.publish()
    report = desk.indexing.ingest()
    assert report.articles_updated == 1
    changes = desk.watches.check()
    assert len(changes) == 1 and "could still open" in changes[0].new[0][0]
    assert changes[0].superseded and "allowed to return" in changes[0].superseded[0]
    assert changes[0].new_sources == []  # the same article, changed
    assert desk.watches.check() == []


def test_watch_limits_scope_and_removal(newsroom):
    desk, _ = newsroom
    guild = Scope(guild_id=5, everything=False)
    with pytest.raises(BadQuery):
        desk.watches.add("   ", guild_id=5, user_id=1, created_by=1)
    with pytest.raises(BadQuery):
        desk.watches.add("volcano " * 60, guild_id=5, user_id=1, created_by=1)
    ids = [desk.watches.add(f"{QUESTION} {i}", guild_id=5, user_id=1, created_by=1)[0].id for i in range(5)]
    with pytest.raises(BadQuery, match="at most 5"):
        desk.watches.add(QUESTION, guild_id=5, user_id=1, created_by=1)
    desk.watches.add(QUESTION, guild_id=6, user_id=1, created_by=1)  # another server counts apart
    assert [x.id for x in desk.watches.list_watches(guild)] == ids
    with pytest.raises(NotFound) as elsewhere:
        desk.watches.remove(ids[0], Scope(guild_id=6, everything=False), user_id=1)
    with pytest.raises(NotFound) as nowhere:
        desk.watches.remove(ids[-1] + 1000, Scope(guild_id=6, everything=False), user_id=1)
    # the same words whether the number is another server's watch or none at all
    assert str(elsewhere.value).replace(str(ids[0]), "N") == str(nowhere.value).replace(str(ids[-1] + 1000), "N")
    with pytest.raises(PermissionDenied):
        desk.watches.remove(ids[0], guild, user_id=2)
    with pytest.raises(BadQuery):
        desk.watches.remove("first", guild, user_id=1)
    desk.watches.remove(ids[0], guild, user_id=2, admin=True)
    assert len(desk.watches.list_watches(guild)) == 4


def test_the_watch_limits_are_policy_worded_by_the_service(newsroom, monkeypatch):
    """The archive only counts (in the write that adds); the service words the refusal from index.policy."""
    desk, _ = newsroom
    monkeypatch.setattr(policy, "WATCHES_PER_MEMBER", 2)
    monkeypatch.setattr(policy, "WATCHES_PER_GUILD", 3)
    for i in range(2):
        desk.watches.add(f"{QUESTION} {i}", guild_id=5, channel_id=50, created_by=1)
    with pytest.raises(LimitReached, match=r"^you already have 2 watches here \(at most 2\); remove one first$"):
        desk.watches.add(QUESTION, guild_id=5, channel_id=50, created_by=1)
    desk.watches.add(QUESTION, guild_id=5, channel_id=50, created_by=2)
    with pytest.raises(LimitReached, match=r"^this server already has 3 watches \(at most 3\); remove one first$"):
        desk.watches.add(QUESTION, guild_id=5, channel_id=50, created_by=3)


def test_recorded_answers_are_forgotten_after_the_retention(newsroom):
    desk, _ = newsroom
    old = desk.feedback.record(desk.reading.ask("Explain quantum entanglement photonics"))
    desk.archive.db.execute("UPDATE asked SET asked_at = '2020-01-01T00:00:00+00:00' WHERE id = ?", [old])
    kept = desk.feedback.record(desk.reading.ask("Explain opera frescoes restoration techniques"))
    desk.archive.set_vote(old, "someone", -1)
    groups = desk.feedback.report(find_feeds=False)
    assert [q["id"] for g in groups for q in g.questions] == [kept]
    assert desk.archive.vote_counts(old) == (0, 0)
