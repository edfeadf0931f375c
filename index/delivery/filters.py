"""Per feed-and-channel filters: include/exclude rules by words or regular expressions on an
article's title, text, author or category (or any of them), each optionally negated, case-insensitive
unless asked otherwise.

An article passes when no *exclude* rule matches it and, if the feed has *include* rules, at least
one of them matches. A negated rule matches when its pattern does not.

Patterns come from any server's admins and run on every posting pass in the bot's one process, so
they are compiled with RE2 (``google-re2``), whose matching time is linear in the text: Python's
``re`` backtracks, and ``(a+)+$`` on a 28-character title held the interpreter for 20 seconds.
RE2 has no backreferences or lookaround; such a pattern is refused when the filter is added."""

from __future__ import annotations

import functools
from typing import Any

import re2

from ..errors import BadQuery, FilterBroken
from ..models import FILTER_FIELDS, Article, FilterRule

FIELDS = FILTER_FIELDS
ACTIONS = ("include", "exclude")
MAX_PATTERN = 300
MAX_RULES = 50


# Python's \w (letters, digits of any script, underscore); RE2's own \w is ASCII only
_NOT_WORD = r"[^\p{L}\p{N}_]"


def compile_pattern(pattern: str, regex: bool, case_sensitive: bool) -> Any:
    """The rule's pattern as an RE2 regular expression (``.search(text)``). Words: a
    comma-separated list of words or phrases, each matched on word boundaries. A bad regex, or one
    RE2 cannot run (backreferences, lookaround, too large), raises BadQuery naming it."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise BadQuery("a filter needs a pattern")
    if len(pattern) > MAX_PATTERN:
        raise BadQuery(f"a filter pattern is at most {MAX_PATTERN} characters")
    if regex:
        return _compile(pattern, case_sensitive)
    words = [w.strip() for w in pattern.split(",") if w.strip()]
    if not words:
        raise BadQuery("a filter needs at least one word")
    # (?<!\w)word(?!\w) without lookaround: the same matches, as RE2 only answers "found or not" here
    alternatives = "|".join(re2.escape(w) for w in words)
    return _compile(f"(?:^|{_NOT_WORD})(?:{alternatives})(?:{_NOT_WORD}|$)", case_sensitive, words=pattern)


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str, case_sensitive: bool, words: str | None = None) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # the error goes to the admin, not to stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if words is not None:
            raise BadQuery(f"the words {words!r} cannot be used as a filter: {reason}") from None
        hint = ""
        if "perl operator" in reason or "escape sequence" in reason:
            hint = " (lookaround such as (?=…) and backreferences such as \\1 are not supported)"
        raise BadQuery(f"bad regular expression {pattern!r}: {reason}{hint}") from None


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
    """Whether the rule matches; FilterBroken when a stored pattern no longer compiles (added
    before patterns were checked for RE2), so the caller can say so for that feed and go on."""
    try:
        pattern = compile_pattern(rule.pattern, rule.regex, rule.case_sensitive)
    except BadQuery as exc:
        raise FilterBroken(f"filter {rule.describe()} cannot run ({exc}); remove it and add it again") from None
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
