"""Comparing one story across outlets: who reported first, who carried it, where figures disagree.

Figures are numbers attached to a noun: "700 agents", "700 federal agents", "$1.5 billion",
"12 percent", "six hundred agents". The noun is one of the (at most two) content words right after
the number; two outlets' figures are about the same thing when they share that word (compared by
its Snowball stem, so "agent"/"agents" match) and disagree when their values differ. Years
(1800–2100 written without a separator), dates, times and ordinals are not figures.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..models import Article, FigureClaim
from ..text.chunking import split_sentences
from ..text.stemming import stem
from ..text.words import STOPWORDS

AROUND_DAYS = 4  # a story's articles are looked for this many days either side of the one asked about

_SMALL = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALE = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 1e12}
_NUMBER_WORD = "|".join(sorted(_SMALL, key=len, reverse=True))
_FIGURE = re.compile(
    r"(?<![\w.,$€£-])(?P<cur>[$€£])?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|(?:" + _NUMBER_WORD + r")(?:[\s-](?:" + _NUMBER_WORD + r"))?)"
    r"(?:\s?(?P<scale>hundred|thousand|million|billion|trillion|bn|m)\b)?"
    r"(?P<pct>\s?%|\s?per\s?cent\b|\s?percent\b)?"
    r"(?=(?P<rest>(?:[\s-]+[A-Za-z][\w'-]*){0,3}))",  # looked at, not consumed: "… and six hundred …"
    re.I,
)
_MONTHS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
_NOT_UNITS = _MONTHS | {"am", "pm", "a.m", "p.m", "th", "st", "nd", "rd", "percent", "per", "cent", "of"} | set(_SCALE)
_UNIT_STOP = STOPWORDS | {"said", "says", "say", "than", "each", "per", "out"}


def _value(num: str, scale: str | None) -> float | None:
    num = num.lower().replace(",", "")
    try:
        value = float(num)
    except ValueError:
        parts = re.split(r"[\s-]", num)
        value = float(sum(_SMALL.get(p, 0) for p in parts))
        if not value:
            return None
    if scale:
        key = scale.lower()
        value *= {"bn": 1e9, "m": 1e6}.get(key, _SCALE.get(key, 1))
    return value


def figures(article: Article) -> list[FigureClaim]:
    """Every figure of an article (title and text) with the sentence it is in."""
    out = []
    # the text's sentences first: a quote from the body says more than the headline
    for sentence in [*split_sentences(article.text or article.summary or ""), article.title]:
        for m in _FIGURE.finditer(sentence):
            raw = m["num"]
            if re.fullmatch(r"1[89]\d\d|20\d\d|2100", raw) and not m["cur"]:
                continue  # a year
            before = sentence[: m.start()].rstrip().split(" ")[-1].lower().strip(",.") if m.start() else ""
            if before in _MONTHS:
                continue  # "March 3"
            value = _value(raw, m["scale"])
            if value is None:
                continue
            if m["cur"]:
                unit = m["cur"]
            elif m["pct"]:
                unit = "percent"
            else:
                words = []
                for w in re.findall(r"[A-Za-z][\w'-]*", m["rest"] or ""):
                    low = w.lower()
                    if low in _UNIT_STOP or low in _NOT_UNITS:
                        break
                    words.append(w)
                    if len(words) == 2:
                        break
                if not words:
                    continue
                unit = " ".join(words)
            text = m.group(0).strip()
            out.append(FigureClaim(article, value, text, unit, sentence.strip()))
    return out


def _keys(claim: FigureClaim) -> set[str]:
    if claim.unit in ("$", "€", "£", "percent"):
        return {claim.unit}
    return {stem(w.lower()) for w in claim.unit.split()}


def disagreements(articles: list[Article], limit: int = 6) -> list[tuple[str, list[FigureClaim]]]:
    """Per thing counted, the claims of outlets whose figures differ (one claim per outlet and
    value, first seen), most outlets first. A thing one outlet alone counts is not a disagreement."""
    by_key: dict[str, list[FigureClaim]] = defaultdict(list)
    for article in articles:
        for claim in figures(article):
            for key in _keys(claim):
                by_key[key].append(claim)
    found: list[tuple[str, list[FigureClaim]]] = []
    used_sentences: set[tuple[int, str]] = set()
    for key, claims in sorted(by_key.items(), key=lambda kv: -len({c.article.outlet for c in kv[1]})):
        outlets = {c.article.outlet for c in claims}
        values = {round(c.value, 6) for c in claims}
        if len(outlets) < 2 or len(values) < 2:
            continue
        per_outlet_values: dict[str, set[float]] = defaultdict(set)
        for c in claims:
            per_outlet_values[c.article.outlet].add(round(c.value, 6))
        if all(v == next(iter(per_outlet_values.values())) for v in per_outlet_values.values()):
            continue  # every outlet gives the same set of numbers
        kept: list[FigureClaim] = []
        seen: set[tuple[str, float]] = set()
        for c in sorted(claims, key=lambda c: (c.article.published_ts or 0, c.article.id)):
            mark = (c.article.outlet, round(c.value, 6))
            if mark in seen:
                continue
            seen.add(mark)
            kept.append(c)
        sentences = {(c.article.id, c.sentence) for c in kept}
        if sentences <= used_sentences:
            continue  # the same quotes under another word of the unit
        used_sentences |= sentences
        # named by the shared word, as the first outlet wrote it
        unit = next((w for w in kept[0].unit.split() if stem(w.lower()) == key), kept[0].unit)
        found.append((unit, kept))
        if len(found) >= limit:
            break
    return found


def format_value(value: float) -> str:
    if value >= 1e9 and value % 1e7 == 0:
        return f"{value / 1e9:g} billion"
    if value >= 1e6 and value % 1e4 == 0:
        return f"{value / 1e6:g} million"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
