#!/usr/bin/env python3
"""How far an extractive answer can go on a questions file: what the gold article itself holds.

    NEWSDESK_DATA_DIR=<an ingest of ../shared/eval> .venv/bin/python benchmarks/bench_answer_ceiling.py \\
        ../shared/eval/questions-dev.jsonl [--json PATH]

For each question whose gold article is in the archive: does the gold article's text contain the
correct choice's text (normalised as ``newsdesk eval`` does), does its first sentence, is the
option best covered by the whole gold text the right one, and by its best single sentence? These
are ceilings for "choice in answer", "choice in first sentence" and multiple-choice accuracy of
any answer quoting the gold article. No model is loaded.
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import urlsplit

import _common  # noqa: F401  (puts the repo on sys.path)

from index.config import load_config
from index.errors import NotFound
from index.evaluate import choice_in, choice_supported
from index.service import Newsdesk
from index.text.chunking import split_sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    desk = Newsdesk(load_config(None))
    questions = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    some = desk.archive.latest_articles(limit=1, until_ts=None, outlets=None)
    if not some:
        raise SystemExit("the archive is empty: ingest ../shared/eval first")
    base = "{0.scheme}://{0.netloc}".format(urlsplit(some[0].url))
    counts = {"questions": 0, "text": 0, "first_sentence": 0, "mc_text": 0, "mc_best_sentence": 0}
    for q in questions:
        try:
            article = desk.archive.get_article(base + urlsplit(q["gold"][0]).path)
        except NotFound:
            continue
        correct = q["choices"][q["answer"]]
        sentences = split_sentences(article.text)
        counts["questions"] += 1
        counts["text"] += choice_in(article.text, correct)
        counts["first_sentence"] += bool(sentences) and choice_in(sentences[0], correct)
        counts["mc_text"] += choice_supported(article.text, q["choices"]) == q["answer"]
        counts["mc_best_sentence"] += any(choice_supported(s, q["choices"]) == q["answer"] for s in sentences)
    n = counts["questions"] or 1
    rates = {k: round(v / n, 4) for k, v in counts.items() if k != "questions"}
    print(f"questions with their gold article archived: {counts['questions']} of {len(questions)}")
    print("gold text holds the correct choice's text      ", rates["text"])
    print("gold first sentence holds it                   ", rates["first_sentence"])
    print("option best covered by the gold text is right  ", rates["mc_text"])
    print("...by the gold article's best single sentence  ", rates["mc_best_sentence"])
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            json.dump({"questions": counts["questions"], **rates}, out, indent=2)


if __name__ == "__main__":
    main()
