"""Hedged answers on a small real archive: coverage about the same things that does not answer
the question is given with its citations, opened by a plain sentence saying so; coverage that
answers is not hedged."""

from __future__ import annotations

import json

import pytest
import support.answers as H
from click.testing import CliRunner

from index.cli.commands import cli
from index.cli.plain import render_answer
from index.models import HEDGE_OPENING

COURT = (
    "court",
    "Supreme Court hears case on gender-affirming care for minors",
    "The Supreme Court heard a historic case that could determine whether states can restrict gender-affirming "
    "care for minors. Lawyers for the families argued that the state law violates the equal protection clause. "
    "The justices are expected to rule on the care case by the end of June.",
    H.utc(2024, 6, 20),
)
# "action" and "decide" are common words in a real archive; "affirmative" (counted, like every word,
# by its porter stem in the keyword index) is among the question's rarest
ACTION = [
    (
        "climate",
        "Council approves climate action plan",
        "The city council decided on a climate action plan that plants trees along every avenue. "
        "The plan also adds bus lanes and solar panels to schools before the end of the decade.",
        H.utc(2024, 5, 2),
    ),
    (
        "workers",
        "Dock workers vote for industrial action",
        "Dock workers decided on industrial action over night shifts at the container port. "
        "The union said the action would begin next month unless managers returned to talks.",
        H.utc(2024, 5, 20),
    ),
]
RELATED = "What did the Supreme Court decide about affirmative action?"
ANSWERED = [
    "What case about gender-affirming care did the Supreme Court hear?",
    "Who won the national chess championship?",
    "What did astronomers detect on the exoplanet?",
    "Why did the bakery recall sourdough bread?",
]

# asked in the present in July 2024, when the archive's newest coverage is from late June: the chess
# story is from March, and says who won then, not who holds the title now
NOW_QUESTION = "Who is the national chess champion?"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.build_desk(tmp_path_factory.mktemp("hedged") / "data", extra_gazette=[COURT, *ACTION])


def test_related_coverage_is_hedged_with_its_citations_kept(archive):
    desk, served = archive
    answer = desk.reading.ask(RELATED, as_of="2024-07-01")
    assert not answer.abstained and answer.hedged
    assert answer.citations and answer.citations[0].article.url == served.links["court"]
    assert all(desk.archive.article_exists(c.article.id) for c in answer.citations)
    assert answer.evidence["rarest_stem_only"]  # "affirmative" met only "affirming"
    data = answer.to_dict()
    assert data["hedged"] is True and data["abstained"] is False
    assert data["answer"].startswith(HEDGE_OPENING + "\n\n") and data["citations"]
    assert render_answer(answer).startswith(HEDGE_OPENING + "\n\n")


@pytest.mark.parametrize("question", ANSWERED)
def test_coverage_that_answers_is_not_hedged(archive, question):
    desk, _ = archive
    answer = desk.reading.ask(question, as_of="2024-07-01")
    assert not answer.abstained and not answer.hedged, answer.evidence
    assert not answer.to_dict()["answer"].startswith(HEDGE_OPENING)
    assert answer.to_dict()["hedged"] is False


def test_ask_json_carries_hedged(archive, tmp_path):
    desk, _ = archive
    config = tmp_path / "newsdesk.toml"
    config.write_text(
        f'[data]\ndir = "{desk.config.data.dir}"\n[embedding]\nmodel = "hash-embedder-256"\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "ask", RELATED, "--as-of", "2024-07-01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hedged"] is True and data["answer"].startswith(HEDGE_OPENING) and data["citations"]


def test_eval_reports_hedge_and_abstain_rates(archive):
    from index.evaluate import evaluate, format_report

    desk, served = archive
    qs = [
        {"id": "related", "question": RELATED, "asked_at": "2024-07-01", "gold": ["/nowhere.html"]},
        {"id": "chess", "question": ANSWERED[1], "asked_at": "2024-07-01", "gold": [served.links["chess"]]},
        {"id": "nothing", "question": "quantum entanglement cryptography", "gold": ["/nope.html"]},
        {"id": "stale", "question": NOW_QUESTION, "asked_at": "2024-07-01", "gold": [served.links["chess"]]},
    ]
    report = evaluate(desk, qs)
    assert report["hedge_rate"] == pytest.approx(2 / 4, abs=1e-4)
    assert report["stale_hedge_rate"] == pytest.approx(1 / 4, abs=1e-4)
    assert report["abstention_rate"] == pytest.approx(1 / 4, abs=1e-4)
    assert report["declined_rate"] == pytest.approx(3 / 4, abs=1e-4)
    assert "hedge_rate=0.500" in format_report(report) and "stale_hedge_rate=0.250" in format_report(report)


def test_old_coverage_of_a_question_about_now_says_so_with_its_date(archive):
    desk, served = archive
    answer = desk.reading.ask(NOW_QUESTION, as_of="2024-07-01")
    assert not answer.abstained and answer.hedged and answer.hedge_reason == "stale", answer.evidence
    assert answer.citations[0].article.url == served.links["chess"]
    opening = "I found no recent coverage that answers this; the closest is from 5 March 2024:"
    assert answer.opening == opening
    data = answer.to_dict()
    assert data["answer"].startswith(opening + "\n\n") and data["hedge_reason"] == "stale"
    assert render_answer(answer).startswith(opening + "\n\n")


def test_coverage_as_new_as_the_archive_is_not_stale(archive):
    desk, _ = archive
    # a week after the story, when it is the archive's newest news
    answer = desk.reading.ask(NOW_QUESTION, as_of="2024-03-12")
    assert not answer.hedged and answer.evidence["stale_days"] < 14, answer.evidence
    # asked in the past tense, the March story answers in July as well
    answer = desk.reading.ask("Who won the national chess championship?", as_of="2024-07-01")
    assert not answer.hedged and not answer.evidence["speaks_of_now"]
    # a period named: the period decides, not the archive's front
    answer = desk.reading.ask(NOW_QUESTION, as_of="2024-07-01", since="2024-03-01", until="2024-03-31")
    assert answer.evidence["stale_days"] is None and answer.hedge_reason != "stale"
