#!/usr/bin/env python3
"""Topic alerts: precision and recall of the alerts at several thresholds, replaying the archive.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_alerts.py --data-dir /tmp/COPY [--quick] [--json PATH]

``--data-dir`` is an ingested eval archive (a *copy*: the follows are written into it, e.g.
``cp -a newsdesk-data /tmp/follow-eval``). Nothing here is fitted by hand:

* **Topics.** From each dev question (../shared/eval/questions-dev.jsonl) its subject is taken
  automatically: the runs of capitalised words (a sentence's first word only when the questions
  never use it in lower case; leading titles such as "President" dropped), kept when the phrase
  occurs in 3 to 40 dev questions and is not a lone nationality adjective ("British"); the longest
  (most words) wins, then the rarer. The questions, sorted by ``asked_at``, are cut into 20
  equal time bins; bin k takes one question, of CNN in even bins and The Week in odd ones when
  there is one, the one with the most specific subject not taken yet. The topic is the subject.
* **Relevant articles** of a topic: *strict* — the gold articles of every dev question whose text
  names the subject; *lenient* — those plus every article whose headline names it. Strict
  precision is a lower bound (an article about the subject that no question asks about counts
  as a false alarm); lenient is the one the default is chosen on.
* **Replay.** A follow per topic is made at the start (a command-line follow, global scope); the
  articles then arrive in published order, one delivery pass per published day, and each pass
  runs the service's own scoring (``Following.score``: the retriever's hybrid score restricted to
  that day's articles) and selection (``Following.select``: threshold, story grouping, copies of a
  story alerted in the last 3 days folded in). An article counts as alerted when an alert shows it
  (its best copy, or a copy under "also reported by").
* **Default.** The threshold with the best lenient F1 (micro over all topics) is printed as the
  choice; ``ALERT_THRESHOLD`` in index/following/alerts.py is set from it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR, Run, base_parser, eval_config, load_questions  # noqa: E402

THRESHOLDS = [0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60]
TOPICS = 20
MIN_QUESTIONS, MAX_QUESTIONS = 3, 40
DAY = 86400.0
STORY_MEMORY = 3 * DAY

_STOP = set(
    """which what who whom whose where when why how the a an this that these those in on at of for after before
    during as by with from to and or but is was were are be has have had did does do will would could should may
    might its it their his her according following last next recent recently week year month today yesterday
    january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday mr mrs ms dr""".split()
)
_TITLES = set(
    """president former prime minister vice secretary gov governor sen senator rep representative king queen
    prince princess pope ceo chancellor judge justice first lady""".split()
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’.\-]*|[.?!:;,]")
_ADJECTIVE = re.compile(r"(?i)(an|ans|ish|ese|ic|ch|i)$")


def phrase_pattern(phrase: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)")


def words_in_use(questions: list[dict]) -> tuple[set[str], set[str]]:
    """The words the questions write in lower case, and those they capitalise inside a sentence."""
    lower, inside = set(), set()
    for q in questions:
        start = True
        for token in _TOKEN.findall(q["question"]):
            if token in ".?!:;,":
                start = token in ".?!:"
                continue
            if token.islower():
                lower.add(token)
            elif not start and token[:1].isupper():
                inside.add(re.sub(r"['’]s$", "", token).rstrip("."))
            start = False
    return lower, inside


def capitalised_runs(question: str, lower_words: set[str], inside: set[str]) -> list[str]:
    """Runs of capitalised words; a sentence's first word counts when the questions capitalise it
    inside a sentence too, or never write it in lower case."""
    runs, current, start = [], [], True
    for token in _TOKEN.findall(question):
        if token in ".?!:;,":
            if current:
                runs.append(current)
            current, start = [], token in ".?!:"
            continue
        word = re.sub(r"['’]s$", "", token).rstrip(".")
        capital = (
            word[:1].isupper()
            and word.lower() not in _STOP
            and (not start or word in inside or word.lower() not in lower_words)
        )
        start = False
        if capital:
            current.append(word)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    out = []
    for run in runs:
        while len(run) > 1 and run[0].lower() in _TITLES:
            run = run[1:]
        phrase = " ".join(run)
        if len(phrase) >= 4 and not (len(run) == 1 and _ADJECTIVE.search(phrase)):
            out.append(phrase)
    return out


def pick_topics(questions: list[dict], count: int) -> list[dict]:
    """[{"topic", "question_id", "asked_at", "outlet", "questions": [ids naming it]}], spread over time."""
    lower_words, inside = words_in_use(questions)
    texts = [q["question"].lower() for q in questions]
    naming: dict[str, list[int]] = {}

    def named_by(phrase: str) -> list[int]:
        if phrase not in naming:
            pattern = phrase_pattern(phrase)
            naming[phrase] = [i for i, t in enumerate(texts) if pattern.search(t)]
        return naming[phrase]

    candidates = []
    for i, q in enumerate(questions):
        subjects = [
            s
            for s in capitalised_runs(q["question"], lower_words, inside)
            if MIN_QUESTIONS <= len(named_by(s)) <= MAX_QUESTIONS
        ]
        if subjects:
            best = max(subjects, key=lambda s: (len(s.split()), -len(named_by(s))))
            candidates.append((q["asked_at"], i, best))
    candidates.sort()
    picked, used = [], set()
    size = len(candidates) / count
    for k in range(count):
        chunk = candidates[int(k * size) : int((k + 1) * size)]
        outlet = ("CNN", "The Week")[k % 2]
        pool = [c for c in chunk if not any(c[2].lower() in u or u in c[2].lower() for u in used)]
        preferred = [c for c in pool if questions[c[1]]["outlet"] == outlet] or pool
        if not preferred:
            continue
        _, i, subject = max(preferred, key=lambda c: (len(c[2].split()), -len(named_by(c[2])), -c[1]))
        used.add(subject.lower())
        q = questions[i]
        picked.append(
            {
                "topic": subject,
                "question_id": q["id"],
                "asked_at": q["asked_at"],
                "outlet": q["outlet"],
                "questions": [questions[j]["id"] for j in named_by(subject)],
            }
        )
    return picked


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="an ingested eval archive (a copy: follows are written)")
    parser.add_argument("--questions", default=str(EVAL_DIR / "questions-dev.jsonl"))
    parser.add_argument(
        "--coverage-weight", type=float, default=None, help="try another retrieval.coverage_weight (default: config)"
    )
    args = parser.parse_args()
    run = Run("bench_alerts", args)

    from index.service import Newsdesk

    questions = load_questions(Path(args.questions))
    by_id = {q["id"]: q for q in questions}
    topics = pick_topics(questions, 5 if args.quick else TOPICS)

    config = eval_config(Path(args.data_dir))
    if args.coverage_weight is not None:
        config = config.replace(retrieval=dataclasses.replace(config.retrieval, coverage_weight=args.coverage_weight))
    desk = Newsdesk(config)
    archive = desk.archive
    following = desk.following
    ids = archive.article_ids_published_since(-1e18, limit=10**7)
    articles = archive.articles_by_ids(ids)
    by_path = {urlparse(a.url).path: a.id for a in articles.values()}
    for old in desk.following.list_follows(everything=True):  # an interrupted run's follows
        if old.kind == "cli" and old.topic in {t["topic"] for t in topics}:
            desk.following.remove(old.id, everything=True)
    for t in topics:
        gold = {by_path.get(urlparse(p).path) for qid in t["questions"] for p in by_id[qid]["gold"]} - {None}
        pattern = phrase_pattern(t["topic"])
        headline = {a.id for a in articles.values() if pattern.search((a.title or "").lower())}
        t["strict"], t["lenient"] = gold, gold | headline
        t["follow"] = desk.following.add(t["topic"])

    days: dict[int, list[int]] = defaultdict(list)
    for aid in ids:  # published order
        ts = articles[aid].published_ts
        if ts is not None:
            days[int(ts // DAY)].append(aid)
    alerted = {th: defaultdict(set) for th in THRESHOLDS}  # threshold -> topic -> articles shown
    messages = {th: defaultdict(int) for th in THRESHOLDS}
    recent = {th: defaultdict(list) for th in THRESHOLDS}  # threshold -> topic -> [(ts, article)] alerted
    started = time.monotonic()
    floor = min(THRESHOLDS)
    for day in sorted(days):
        now = (day + 1) * DAY
        for n, t in enumerate(topics):
            hits = [h for h in following.score(t["follow"], days[day]) if h.score >= floor]
            if not hits:
                continue
            for th in THRESHOLDS:
                memory = [a for ts, a in recent[th][n] if ts >= now - STORY_MEMORY]
                alerts, folded = following.select(t["follow"], hits, recent=memory, threshold=th)
                for alert in alerts:
                    messages[th][n] += 1
                    recent[th][n].append((now, alert.article.id))
                    alerted[th][n] |= {alert.article.id, *(a.id for a in alert.also)}
                alerted[th][n] |= {copy for copy, _ in folded}
    replay_seconds = time.monotonic() - started

    rows, summary = [], []
    for th in THRESHOLDS:
        tp_s = tp_l = shown = rel_s = rel_l = 0
        for n, t in enumerate(topics):
            got = alerted[th][n]
            shown += len(got)
            tp_s += len(got & t["strict"])
            tp_l += len(got & t["lenient"])
            rel_s += len(t["strict"])
            rel_l += len(t["lenient"])
        p_s, r_s = (tp_s / shown if shown else 0.0), tp_s / max(rel_s, 1)
        p_l, r_l = (tp_l / shown if shown else 0.0), tp_l / max(rel_l, 1)
        entry = {
            "threshold": th,
            "messages": sum(messages[th].values()),
            "articles_shown": shown,
            "strict_precision": round(p_s, 3),
            "strict_recall": round(r_s, 3),
            "strict_f1": round(f1(p_s, r_s), 3),
            "lenient_precision": round(p_l, 3),
            "lenient_recall": round(r_l, 3),
            "lenient_f1": round(f1(p_l, r_l), 3),
        }
        summary.append(entry)
        rows.append([th, entry["messages"], shown, p_s, r_s, entry["strict_f1"], p_l, r_l, entry["lenient_f1"]])
    chosen = max(summary, key=lambda e: (e["lenient_f1"], e["threshold"]))
    run.table(
        f"Alerts over {len(days)} daily passes, {len(topics)} topics, {len(articles)} articles",
        ["threshold", "messages", "shown", "P strict", "R strict", "F1 strict", "P lenient", "R lenient", "F1 lenient"],
        rows,
        note=f"chosen default: {chosen['threshold']} (best lenient F1); replay {replay_seconds:.0f} s",
    )
    th = chosen["threshold"]
    per_topic = []
    for n, t in enumerate(topics):
        got = alerted[th][n]
        per_topic.append(
            [
                t["topic"],
                t["asked_at"],
                t["outlet"],
                len(t["strict"]),
                len(t["lenient"]),
                messages[th][n],
                len(got),
                len(got & t["strict"]),
                len(got & t["lenient"]),
            ]
        )
    run.table(
        f"Per topic at threshold {th}",
        ["topic", "asked", "outlet", "rel strict", "rel lenient", "messages", "shown", "hit strict", "hit lenient"],
        per_topic,
    )
    run.results = {
        "thresholds": summary,
        "chosen": chosen,
        "topics": [
            {k: (sorted(v) if isinstance(v, set) else v) for k, v in t.items() if k not in ("follow", "questions")}
            | {"questions": len(t["questions"])}
            for t in topics
        ],
        "passes": len(days),
        "articles": len(articles),
        "replay_seconds": round(replay_seconds, 1),
    }
    for t in topics:
        desk.following.remove(t["follow"].id, everything=True)
    desk.close()
    out = run.finish()
    if not args.json:
        print(json.dumps({"chosen": out["results"]["chosen"]}))


if __name__ == "__main__":
    main()
