"""`newsdesk eval`: retrieval and answer quality on a questions file (../shared/eval format)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from urllib.parse import urlsplit

from .errors import NewsdeskError
from .text.chunking import split_sentences

_WORD = re.compile(r"\w+")


def _path(url: str) -> str:
    return urlsplit(url).path


_CITATION = re.compile(r"\[\d{1,3}\]")


def choice_supported(answer_text: str, choices: list[str]) -> int | None:
    """The choice whose words are best covered by the answer; None on a tie or no overlap.
    Citation markers [n] are not part of the answer's words."""
    words = {w.lower() for w in _WORD.findall(_CITATION.sub(" ", answer_text))}
    scores = []
    for choice in choices:
        cw = [w.lower() for w in _WORD.findall(choice)]
        scores.append(sum(w in words for w in cw) / len(cw) if cw else 0.0)
    best = max(scores, default=0.0)
    if best <= 0 or scores.count(best) > 1:
        return None
    return scores.index(best)


_BOLD = re.compile(r"\*\*")


def normalise(text: str) -> str:
    """Lower case, citation markers [n] and bold markup removed, punctuation as spaces:
    the form in which a choice's text is looked for in an answer."""
    text = _BOLD.sub("", _CITATION.sub(" ", text or ""))
    return " ".join(w.lower() for w in _WORD.findall(text.replace("_", " ")))


def first_sentence(answer_text: str) -> str:
    """The answer's lead: its direct-answer line when it has one, else its first sentence."""
    sentences = split_sentences(_BOLD.sub("", answer_text or ""))
    return sentences[0] if sentences else ""


def choice_in(answer_text: str, choice: str) -> bool:
    """Whether the choice's text, normalised, occurs in the normalised answer as whole words."""
    wanted = normalise(choice)
    return bool(wanted) and f" {wanted} " in f" {normalise(answer_text)} "


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    index = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[index]


def evaluate(desk, questions: list[dict], answers: bool = True, k: int = 10) -> dict:
    totals: dict[str, float] = defaultdict(float)
    by_outlet: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    search_ms, ask_ms = [], []
    n = 0
    for q in questions:
        gold = {_path(g) for g in q.get("gold", [])}
        started = time.perf_counter()
        try:
            result = desk.retriever.search(q["question"], as_of=q.get("asked_at"), limit=k)
            hits = result.hits
        except NewsdeskError:
            hits = []
        search_ms.append((time.perf_counter() - started) * 1000)
        rank = next(
            (
                i
                for i, h in enumerate(hits, 1)
                if _path(h.article.url) in gold or any(_path(x.url) in gold for x in h.also)
            ),
            None,
        )
        row = {
            "hits1": rank == 1,
            "hits5": bool(rank and rank <= 5),
            "hits10": bool(rank and rank <= 10),
            "mrr10": 1.0 / rank if rank else 0.0,
        }
        if answers:
            started = time.perf_counter()
            try:
                answer = desk.reading.ask(q["question"], as_of=q.get("asked_at"))
            except NewsdeskError:
                answer = None
            ask_ms.append((time.perf_counter() - started) * 1000)
            if answer is not None:
                cited = [c.article for c in answer.citations]
                resolved = [desk.archive.article_exists(a.id) for a in cited]
                row["citations"] = len(cited)
                row["citations_resolved"] = sum(resolved)
                row["abstained"] = answer.abstained
                row["hedged"] = answer.hedged
                row["hedged_stale"] = answer.hedge_reason == "stale"
                row["declined"] = answer.abstained or answer.hedged
                row["gold_cited"] = any(_path(a.url) in gold for a in cited)
                if "choices" in q and "answer" in q:
                    row["mc_correct"] = choice_supported(answer.text, q["choices"]) == q["answer"]
                    correct = q["choices"][q["answer"]]
                    row["choice_in_answer"] = choice_in(answer.text, correct)
                    row["choice_in_first"] = choice_in(first_sentence(answer.text), correct)
            else:
                row["abstained"] = row["declined"] = True
        n += 1
        outlet = q.get("outlet") or "?"
        by_outlet[outlet]["n"] += 1
        for key, value in row.items():
            totals[key] += float(value)
            by_outlet[outlet][key] += float(value)

    def summary(t, count):
        out = {"questions": int(count)}
        if not count:
            return out
        for key in ("hits1", "hits5", "hits10", "mrr10"):
            out[key] = round(t[key] / count, 4)
        if answers:
            out["mc_accuracy"] = round(t["mc_correct"] / count, 4)
            out["choice_in_answer"] = round(t["choice_in_answer"] / count, 4)
            out["choice_in_first"] = round(t["choice_in_first"] / count, 4)
            out["gold_cited"] = round(t["gold_cited"] / count, 4)
            out["abstention_rate"] = round(t["abstained"] / count, 4)
            out["hedge_rate"] = round(t["hedged"] / count, 4)
            out["stale_hedge_rate"] = round(t["hedged_stale"] / count, 4)  # of them: old coverage, question about now
            out["declined_rate"] = round(t["declined"] / count, 4)  # abstained or hedged
            out["citations_resolved"] = round(t["citations_resolved"] / t["citations"], 4) if t["citations"] else 1.0
        return out

    report = summary(totals, n)
    report["latency_ms"] = {
        "search_p50": round(percentile(search_ms, 0.5), 1),
        "search_p95": round(percentile(search_ms, 0.95), 1),
    }
    if ask_ms:
        report["latency_ms"].update(
            {"ask_p50": round(percentile(ask_ms, 0.5), 1), "ask_p95": round(percentile(ask_ms, 0.95), 1)}
        )
    report["by_outlet"] = {o: summary(t, t["n"]) for o, t in sorted(by_outlet.items())}
    return report


def format_report(report: dict) -> str:
    lines = [f"questions: {report['questions']}"]
    keys = [
        k
        for k in (
            "hits1",
            "hits5",
            "hits10",
            "mrr10",
            "mc_accuracy",
            "choice_in_answer",
            "choice_in_first",
            "gold_cited",
            "abstention_rate",
            "hedge_rate",
            "stale_hedge_rate",
            "citations_resolved",
        )
        if k in report
    ]
    lines.append("  ".join(f"{k}={report[k]:.3f}" for k in keys))
    lines.append("latency: " + "  ".join(f"{k}={v}ms" for k, v in report["latency_ms"].items()))
    for outlet, sub in report["by_outlet"].items():
        lines.append(
            f"  {outlet:<20} n={sub['questions']:<5} "
            + "  ".join(f"{k}={sub[k]:.3f}" for k in ("hits1", "hits5", "mrr10", "mc_accuracy") if k in sub)
        )
    return "\n".join(lines)
