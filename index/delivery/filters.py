"""Per feed-and-channel filters: include/exclude rules by words or regular expressions on an
article's title, text, author or category (or any of them), each optionally negated, case-insensitive
unless asked otherwise.

An article passes when no *exclude* rule matches it and, if the feed has *include* rules, at least
one of them matches. A negated rule matches when its pattern does not."""

from __future__ import annotations

import re

from ..errors import BadQuery
from ..models import FILTER_FIELDS, Article, FilterRule

FIELDS = FILTER_FIELDS
ACTIONS = ("include", "exclude")
MAX_PATTERN = 300
MAX_RULES = 50


def compile_pattern(pattern: str, regex: bool, case_sensitive: bool) -> re.Pattern:
    """The rule's pattern as a regular expression. Words: a comma-separated list of words or
    phrases, each matched on word boundaries. A bad regex raises BadQuery naming it."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise BadQuery("a filter needs a pattern")
    if len(pattern) > MAX_PATTERN:
        raise BadQuery(f"a filter pattern is at most {MAX_PATTERN} characters")
    flags = 0 if case_sensitive else re.IGNORECASE
    if regex:
        try:
            return re.compile(pattern, flags)
        except re.error as exc:
            raise BadQuery(f"bad regular expression {pattern!r}: {exc}") from None
    words = [w.strip() for w in pattern.split(",") if w.strip()]
    if not words:
        raise BadQuery("a filter needs at least one word")
    return re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), flags)


def validate(action: str, field: str, pattern: str, regex: bool, case_sensitive: bool) -> None:
    if action not in ACTIONS:
        raise BadQuery(f"unknown filter action {action!r} (use {' or '.join(ACTIONS)})")
    if field not in FIELDS:
        raise BadQuery(f"unknown filter field {field!r} (use one of {', '.join(FIELDS)})")
    compile_pattern(pattern, regex, case_sensitive)


def _values(article: Article, field: str) -> list[str]:
    if field == "title":
        return [article.title]
    if field == "text":
        return [article.text or article.summary]
    if field == "author":
        return list(article.authors)
    if field == "category":
        return list(article.categories)
    return [article.title, article.text or article.summary, *article.authors, *article.categories]


def rule_matches(rule: FilterRule, article: Article) -> bool:
    pattern = compile_pattern(rule.pattern, rule.regex, rule.case_sensitive)
    found = any(pattern.search(v or "") for v in _values(article, rule.field))
    return found != rule.negate


def evaluate(rules: list[FilterRule], article: Article) -> tuple[bool, str]:
    """(passes, why): why names the rule that excluded it, that let it in, or that none did."""
    for rule in rules:
        if rule.action == "exclude" and rule_matches(rule, article):
            return False, f"excluded by filter {rule.describe()}"
    includes = [r for r in rules if r.action == "include"]
    if not includes:
        return True, "no include filter; no exclude filter matched"
    for rule in includes:
        if rule_matches(rule, article):
            return True, f"included by filter {rule.describe()}"
    return False, "matched no include filter (" + "; ".join(r.describe() for r in includes) + ")"
