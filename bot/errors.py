"""The one error handler: every failure becomes a short ephemeral message.

``bot.tree.on_error`` is :func:`on_app_command_error`; buttons and the mention
handler call :func:`report` / :func:`describe` directly. Domain errors
(``index.errors``) and check failures are expected: one log line. Anything else is
a bug: the full traceback goes to the log (through the secret-redacting filter),
and the user only reads that something went wrong. No traceback ever reaches a
channel.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import (
    ArchiveError,
    BadQuery,
    ConfigError,
    FeedError,
    FetchError,
    IndexUnavailable,
    ModelMismatch,
    NewsdeskError,
    NotFound,
    PermissionDenied,
    UrlRefused,
)
from index.service import redact

from . import render
from .replies import NONE, private

log = logging.getLogger("bot.errors")


class NotAdmin(app_commands.CheckFailure):
    """The member may not use an admin command (runtime check, whatever the command permissions say)."""

    def __init__(self, message: str = "This command is for server admins (Manage Server or an admin role)."):
        super().__init__(message)


class Busy(app_commands.CheckFailure):
    """Too much heavy work is queued; the user should try again shortly."""

    def __init__(
        self, message: str = "Newsdesk is busy answering other questions right now. Please try again in a minute."
    ):
        super().__init__(message)


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(error, app_commands.CommandInvokeError) and error.original is not None:
        error = error.original
    return error


def describe(error: BaseException) -> str:
    """The user-facing one-liner for an error (never a traceback, never a secret)."""
    error = _unwrap(error)
    if isinstance(error, (NotAdmin, Busy)):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: you can use this command again in {max(1, round(error.retry_after))} s."
    if isinstance(error, commands.MaxConcurrencyReached):
        return "Too many of these are running right now. Please try again in a minute."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, (app_commands.MissingPermissions, app_commands.MissingAnyRole, app_commands.MissingRole)):
        return "You don't have permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            "I'm missing permissions here: " + ", ".join(p.replace("_", " ") for p in error.missing_permissions) + "."
        )
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't read the value {render.trim(str(error.value), 80)!r}."
    if isinstance(error, BadQuery):
        return f"That didn't work: {_clean(error)}"
    if isinstance(error, NotFound):
        return f"Not found: {_clean(error)}"
    if isinstance(error, UrlRefused):
        return f"That URL was refused: {_clean(error)}"
    if isinstance(error, PermissionDenied):
        return f"Not allowed: {_clean(error)}"
    if isinstance(error, ConfigError):
        return "Newsdesk is not configured correctly; the bot's operator has the details in the log."
    if isinstance(error, (IndexUnavailable, ModelMismatch)):
        return "The search index is unavailable right now; please try again later."
    if isinstance(error, ArchiveError):
        return "The archive can't be written right now; please try again later."
    if isinstance(error, (FetchError, FeedError)):
        return f"Fetching failed: {_clean(error)}"
    if isinstance(error, NewsdeskError):
        return _clean(error)
    if isinstance(error, discord.Forbidden):
        return "Discord refused that (I may be missing a permission in this channel)."
    return "Something went wrong on our side. It has been logged."


def _clean(error: BaseException) -> str:
    text = render.one_line(str(error)) or error.__class__.__name__
    return render.strip_credentials(redact(render.trim(text, 300)))


def is_expected(error: BaseException) -> bool:
    error = _unwrap(error)
    return isinstance(error, (NewsdeskError, app_commands.CheckFailure, app_commands.TransformerError))


def log_error(error: BaseException, where: str) -> None:
    original = _unwrap(error)
    if is_expected(original):
        log.info("%s: %s: %s", where, original.__class__.__name__, redact(str(original)))
    else:
        log.error("%s failed", where, exc_info=(type(original), original, original.__traceback__))


def _where(interaction: discord.Interaction) -> str:
    command = interaction.command.qualified_name if interaction.command else None
    if command:
        return f"/{command}"
    data: dict = dict(interaction.data or {})
    return f"component {data.get('custom_id', '?')}"


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the user, ephemerally, what went wrong."""
    try:
        text = render.message_text("⚠️ " + describe(error))
    except Exception:  # noqa: BLE001 - the error handler itself must never fail
        log.exception("describing an error failed")
        text = "⚠️ Something went wrong on our side. It has been logged."
    try:
        public_defer = interaction.extras.get("public_defer") and not interaction.extras.get("answered")
        if interaction.response.is_done() and public_defer:
            # A public "thinking…" message can only be replaced; keep it short and traceback-free.
            interaction.extras["answered"] = True
            await interaction.edit_original_response(content=text, embed=None, view=None, allowed_mentions=NONE)
        else:
            await private(interaction, text)
    except discord.HTTPException as exc:  # the interaction expired, the channel vanished...
        log.warning("could not report an error to the user: %s", exc)


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    log_error(error, _where(interaction))
    await report(interaction, error)


async def guarded(interaction: discord.Interaction, coro) -> None:
    """Run a component callback; errors go through the same mapping."""
    try:
        await coro
    except Exception as exc:  # noqa: BLE001 - everything is reported, expected or not
        log_error(exc, _where(interaction))
        await report(interaction, exc)
