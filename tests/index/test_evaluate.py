"""index.evaluate: choice_supported, percentile, and evaluate() metrics on the small archive."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import support.answers as H
from click.testing import CliRunner

from index.cli.commands import cli
from index.evaluate import choice_in, choice_supported, evaluate, first_sentence, format_report, normalise, percentile


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


def path(url: str) -> str:
    return urlsplit(url).path


@pytest.mark.parametrize(
    "answer, choices, expected",
    [
        ("The electric ferry crossed the bay.", ["electric ferry", "airport runway", "cable car"], 0),
        ("It was the cable car.", ["electric ferry", "airport runway", "cable car"], 2),
        ("Nothing related.", ["electric ferry", "airport runway"], None),  # no overlap
        ("ferry and runway", ["electric ferry", "airport runway"], None),  # a tie
        ("A ferry, electric and quiet.", ["Electric Ferry!", "ferry boat"], 0),  # case and punctuation ignored
        ("anything", [], None),
        ("anything", ["", "..."], None),
    ],
)
def test_choice_supported(answer, choices, expected):
    assert choice_supported(answer, choices) == expected


def test_normalise_strips_case_punctuation_markers_and_bold():
    assert normalise("**700** federal agents [1]. “Squid Game” [12]!") == "700 federal agents squid game"
    assert normalise("") == ""


@pytest.mark.parametrize(
    "answer, choice, expected",
    [
        ("**700** federal immigration agents [1]", "700", True),
        ("The show is “Squid Game” [1].", "\u201cSquid Game\u201d", True),  # quotes are punctuation
        ("The Tony Awards [1] were held.", "the tony awards", True),  # case ignored, marker skipped
        ("About 7000 agents [1].", "700", False),  # whole words only
        ("Europe [1] and Asia.", "North America", False),
        ("Europe [1].", "...", False),  # an empty choice is never found
        ("**700** agents[1]", "700 agents", True),  # bold and marker stripped
    ],
)
def test_choice_in(answer, choice, expected):
    assert choice_in(answer, choice) is expected


def test_first_sentence_is_the_lead():
    with_line = "**700** federal immigration agents [1]\n\nHoman announced the drawdown. [1] More follows. [2]"
    assert first_sentence(with_line) == "700 federal immigration agents [1]"
    assert first_sentence("Homan announced it. [1] Europe is next. [2]") == "Homan announced it. [1]"
    assert not choice_in(first_sentence("Homan announced it. [1] Europe is next. [2]"), "Europe")
    assert first_sentence("") == ""


def test_percentile():
    assert percentile([], 0.5) == 0.0
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0, 5.0], 0.5) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([1.0, 2.0], 0.0) == 1.0 and percentile([1.0, 2.0], 1.0) == 2.0


def questions(links) -> list[dict]:
    return [
        {
            "id": "chess",
            "question": "Who won the national chess championship?",
            "outlet": H.GAZETTE,
            "choices": ["a twelve year old prodigy", "retired banker", "football coach"],
            "answer": 0,
            "gold": ["https://elsewhere.example" + path(links["chess"])],
        },  # hosts vary: paths compare
        {
            "id": "ferry",
            "question": "What opened across the bay?",
            "outlet": H.GAZETTE,
            "choices": ["electric ferry", "airport runway", "toll motorway"],
            "answer": 0,
            "gold": [path(links["ferry"]), path(links["ferry-wire"])],
        },
        {
            "id": "bakery-before",
            "question": "Why did the bakery recall sourdough bread?",
            "asked_at": "2024-04-01",
            "outlet": H.COURIER,
            "choices": ["sesame labels", "mouldy flour"],
            "answer": 0,
            "gold": [path(links["bakery"])],
        },  # published three weeks after asked_at: cannot be found
        {
            "id": "nowhere",
            "question": "quantum entanglement cryptography",
            "outlet": H.COURIER,
            "choices": ["photons", "qubits"],
            "answer": 1,
            "gold": ["/not/in/the/archive.html"],
        },
    ]


def test_evaluate_exact_metrics(archive):
    desk, served = archive
    report = evaluate(desk, questions(served.links))
    assert report["questions"] == 4
    assert report["hits1"] == 0.5 and report["hits5"] == 0.5 and report["hits10"] == 0.5
    assert report["mrr10"] == 0.5
    assert report["mc_accuracy"] == 0.5
    # chess: "twelve year old chess prodigy" is not "a twelve year old prodigy"; ferry: "electric ferry" is said
    assert report["choice_in_answer"] == 0.25 and report["choice_in_first"] == 0.25
    assert report["gold_cited"] == 0.5
    assert report["abstention_rate"] == 0.5
    assert report["citations_resolved"] == 1.0
    assert set(report["latency_ms"]) == {"search_p50", "search_p95", "ask_p50", "ask_p95"}
    assert all(v >= 0 for v in report["latency_ms"].values())
    by = report["by_outlet"]
    assert set(by) == {H.GAZETTE, H.COURIER}
    assert by[H.GAZETTE]["questions"] == 2 and by[H.GAZETTE]["hits1"] == 1.0 and by[H.GAZETTE]["mc_accuracy"] == 1.0
    assert by[H.COURIER]["questions"] == 2 and by[H.COURIER]["hits1"] == 0.0
    assert by[H.COURIER]["abstention_rate"] == 1.0
    text = format_report(report)
    assert text.splitlines()[0] == "questions: 4"
    assert "hits1=0.500" in text and "mrr10=0.500" in text and "citations_resolved=1.000" in text
    assert "choice_in_answer=0.250" in text and "choice_in_first=0.250" in text


def test_evaluate_ranks_beyond_the_first(archive):
    desk, served = archive
    links = served.links
    question = "electric ferry and the rail strike"
    hits = desk.retriever.search(question, limit=10).hits
    second = hits[1].article  # the gold article of this question is the second result
    qs = [
        {"id": "1", "question": "Who won the national chess championship?", "gold": [path(links["chess"])]},
        {"id": "2", "question": question, "gold": [path(second.url)]},
        {"id": "3", "question": "quantum entanglement cryptography", "gold": ["/nope.html"]},
        {"id": "4", "question": "   ", "gold": [path(links["chess"])]},  # a bad query counts as a miss
    ]
    report = evaluate(desk, qs, answers=False)
    assert report["questions"] == 4
    assert report["hits1"] == 0.25
    assert report["hits5"] == 0.5 and report["hits10"] == 0.5
    assert report["mrr10"] == pytest.approx((1 + 0.5) / 4, abs=1e-4)
    assert "mc_accuracy" not in report and "ask_p50" not in report["latency_ms"]
    assert set(report["by_outlet"]) == {"?"}


def test_eval_command(archive, tmp_path):
    desk, served = archive
    config = tmp_path / "newsdesk.toml"
    config.write_text(
        f'[data]\ndir = "{desk.config.data.dir}"\n[embedding]\nmodel = "hash-embedder-256"\n', encoding="utf-8"
    )
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("\n".join(json.dumps(q) for q in questions(served.links)), encoding="utf-8")
    report_path = tmp_path / "report.json"
    before = H.archive_fingerprint(desk)
    result = CliRunner().invoke(
        cli, ["--config", str(config), "eval", str(qfile), "--report", str(report_path), "--no-answers", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["questions"] == 3
    assert report["hits1"] == pytest.approx(2 / 3, abs=1e-4)
    assert result.stdout.startswith("questions: 3\n")
    assert f"report written to {report_path}" in result.stdout
    assert H.archive_fingerprint(desk) == before
