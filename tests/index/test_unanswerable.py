"""index.unanswerable: the draw, the copy without the drawn questions' gold articles, and the
rates of `newsdesk eval --unanswerable-sample` on the small test archive."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import support.answers as H
from click.testing import CliRunner

from index.cli.commands import cli
from index.errors import ConfigError
from index.service import Newsdesk
from index.unanswerable import articles_at, build_copy, copy_config, evaluate_unanswerable, split_questions
from index.vectors.embedders import HashEmbedder


def path(url: str) -> str:
    return urlsplit(url).path


def test_split_draws_the_sample_and_keeps_answerable_ones_whose_gold_stays():
    qs = [{"id": str(i), "question": "q", "gold": [f"/a/{i % 6}.html"]} for i in range(12)]
    qs.append({"id": "no-gold", "question": "q"})
    gone, kept = split_questions(qs, 3, seed=7)
    assert len(gone) == 3 and len(kept) == 3
    removed = {g for q in gone for g in q["gold"]}
    assert not {g for q in kept for g in q["gold"]} & removed  # each kept question still has its gold
    assert not {q["id"] for q in gone} & {q["id"] for q in kept}
    assert all(q.get("gold") for q in gone + kept)
    assert split_questions(qs, 3, seed=7) == (gone, kept)  # the seed fixes the draw


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


def questions(links) -> list[dict]:
    def q(qid, question, slug, choices):
        return {"id": qid, "question": question, "choices": choices, "answer": 0, "gold": [path(links[slug])]}

    return [
        q("chess", "Who won the national chess championship?", "chess", ["twelve year old", "banker"]),
        q("exoplanet", "What did astronomers detect on the exoplanet?", "exoplanet", ["water vapour", "methane"]),
        q("bakery", "Why did the bakery recall sourdough bread?", "bakery", ["sesame", "mould"]),
        q("strike", "Why did rail workers strike?", "strike", ["pay", "safety"]),
    ]


def test_the_copy_lacks_the_gold_articles_and_the_archive_is_untouched(archive, tmp_path):
    desk, served = archive
    qs = questions(served.links)
    before = H.archive_fingerprint(desk)
    # the hash embedder's cosines are not the model's: a floor under which its chess answer (none of
    # the question's words, keyword search preferring another article) is hedged
    answers = replace(desk.config.answers, hedge_min_dense_when_keyword_disagrees=0.32)
    config = replace(desk.config, answers=answers)
    made = build_copy(config, tmp_path / "copy", qs[:2], lambda c: Newsdesk(c, embedder=HashEmbedder()))
    assert made["articles_removed"] == 2 and made["vectors_removed"] > 0
    copy = Newsdesk(copy_config(config, tmp_path / "copy"), embedder=HashEmbedder())
    try:
        assert articles_at(copy.archive, {path(served.links["chess"]), path(served.links["exoplanet"])}) == []
        assert len(articles_at(copy.archive, {path(served.links["bakery"])})) == 1
        hits = copy.retriever.search("Who won the national chess championship?").hits
        assert all(path(h.article.url) != path(served.links["chess"]) for h in hits)
        report = evaluate_unanswerable(copy, qs[:2], qs[2:])
    finally:
        copy.close()
    assert H.archive_fingerprint(desk) == before
    assert report["unanswerable"]["questions"] == 2 and report["answerable"]["questions"] == 2
    assert report["unanswerable"]["abstained_or_hedged"] == 1.0
    assert report["answerable"]["abstained_or_hedged"] == 0.0
    assert report["answerable"]["mc_accuracy"] == 1.0
    assert report["unanswerable"]["citations_resolved"] == report["answerable"]["citations_resolved"] == 1.0
    # made again for the same questions: reused; for others: refused
    again = build_copy(config, tmp_path / "copy", qs[:2], lambda c: pytest.fail("the copy is not reused"))
    assert again == made
    with pytest.raises(ConfigError):
        build_copy(config, tmp_path / "copy", qs[2:], lambda c: Newsdesk(c, embedder=HashEmbedder()))


def test_eval_unanswerable_sample_command(archive, tmp_path):
    desk, served = archive
    config = tmp_path / "newsdesk.toml"
    config.write_text(
        f'[data]\ndir = "{desk.config.data.dir}"\n[embedding]\nmodel = "hash-embedder-256"\n', encoding="utf-8"
    )
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("\n".join(json.dumps(q) for q in questions(served.links)), encoding="utf-8")
    report_path = tmp_path / "report.json"
    args = ["--config", str(config), "eval", str(qfile), "--report", str(report_path)]
    args += ["--unanswerable-sample", "2", "--seed", "3", "--copy-dir", str(tmp_path / "copy")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["unanswerable"]["questions"] == 2 and report["answerable"]["questions"] == 2
    assert report["removed"]["articles_removed"] == 2
    assert "abstained or hedged=" in result.stdout and "unanswerable" in result.stdout
