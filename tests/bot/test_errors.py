"""bot.errors: every error becomes one short line; nothing internal leaks."""

from __future__ import annotations

import pytest
from discord import app_commands

from bot.errors import Busy, NotAdmin, describe, is_expected
from index import errors as ix


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            ix.BadQuery("since: cannot understand the date 'x'"),
            "That didn't work: since: cannot understand the date 'x'",
        ),
        (ix.NotFound("no article '9' in the archive"), "Not found: no article '9' in the archive"),
        (ix.UrlRefused("private address"), "That URL was refused: private address"),
        (ix.PermissionDenied("that feed is global"), "Not allowed: that feed is global"),
        (ix.ConfigError("/etc/newsdesk/config.toml: key 'x' must be a number"), "Newsdesk is not configured correctly"),
        (ix.IndexUnavailable("vector index at /srv/chroma is unavailable"), "The search index is unavailable"),
        (ix.ArchiveError("disk full at /srv/data"), "The archive can't be written"),
        (NotAdmin(), "This command is for server admins"),
        (Busy(), "Newsdesk is busy"),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 7.4), "again in 7 s"),
        (app_commands.NoPrivateMessage(), "only works in a server"),
        (RuntimeError("secret internals"), "Something went wrong on our side"),
    ],
)
def test_describe(error, expected):
    text = describe(error)
    assert text.startswith(expected) or expected in text
    assert "Traceback" not in text and len(text) < 400
    assert "/srv" not in text and "/etc" not in text


def test_wrapped_errors_are_unwrapped():
    class Cmd:  # CommandInvokeError only needs something with a name
        name = qualified_name = "ask"

    wrapped = app_commands.CommandInvokeError(Cmd(), ix.BadQuery("the question is empty"))
    assert describe(wrapped) == "That didn't work: the question is empty"
    assert is_expected(wrapped) and not is_expected(RuntimeError())


def test_secrets_are_redacted(monkeypatch):
    monkeypatch.setenv("NEWSDESK_LLM_API_KEY", "sk-verysecretkey123")
    assert "sk-verysecretkey123" not in describe(ix.FetchError("HTTP 401 with key sk-verysecretkey123"))
