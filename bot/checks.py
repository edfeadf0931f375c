"""Who may do what, how often, and how much at once.

* :func:`admin_only` — the runtime admin check on every admin command. Command
  permissions (``default_permissions``) only hide a command and a server owner can
  open them to anyone, so this check is what really protects admin commands.
* :func:`guard` — per-user cooldowns (``config.discord.*_cooldown_seconds``) and
  a refusal when too much heavy work is already queued.
* :class:`HeavyGate` — at most ``config.discord.max_concurrent_heavy`` searches,
  answers or ingests run at once; others wait their turn (up to a queue cap).
* :func:`reader_scope` / :func:`admin_scope` — the :class:`index.service.Scope`
  a request acts with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from index.models import GLOBAL, Scope

from .errors import Busy, NotAdmin

if TYPE_CHECKING:  # pragma: no cover
    from . import NewsdeskBot

QUEUE_PER_SLOT = 16  # waiting heavy requests allowed per concurrent slot before "busy"


class Cooldowns:
    """Per-user, per-kind cooldowns on the monotonic clock."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], float] = {}

    def retry_after(self, kind: str, user_id: int, per: float) -> float:
        """0 when the user may go ahead (and the use is recorded); else seconds to wait."""
        if per <= 0:
            return 0.0
        now = time.monotonic()
        last = self._last.get((kind, user_id))
        if last is not None and now - last < per:
            return per - (now - last)
        self.record(kind, user_id)
        return 0.0

    def left(self, kind: str, key: int, per: float) -> float:
        """Seconds still to wait since the last recorded use (0: go ahead); records nothing."""
        last = self._last.get((kind, key))
        if per <= 0 or last is None:
            return 0.0
        return max(0.0, per - (time.monotonic() - last))

    def record(self, kind: str, key: int) -> None:
        now = time.monotonic()
        self._last[(kind, key)] = now
        if len(self._last) > 10_000:  # forget old entries
            cutoff = now - 3600
            self._last = {k: v for k, v in self._last.items() if v >= cutoff}


class HeavyGate:
    """A semaphore for heavy work with a bounded queue."""

    def __init__(self, slots: int, queue_per_slot: int = QUEUE_PER_SLOT) -> None:
        self.slots = max(1, int(slots))
        self.max_waiting = self.slots * queue_per_slot
        self._sem = asyncio.Semaphore(self.slots)
        self.waiting = 0
        self.running = 0
        self.peak = 0

    @property
    def full(self) -> bool:
        return self.waiting >= self.max_waiting

    def check(self) -> None:
        if self.full:
            raise Busy()

    @contextlib.asynccontextmanager
    async def slot(self):
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            self.running -= 1
            self._sem.release()


def bot_of(interaction: discord.Interaction) -> NewsdeskBot:
    return interaction.client  # type: ignore[return-value]


def is_owner(bot, user_id: int) -> bool:
    return user_id in bot.config.discord.owners


def is_admin(
    bot, user: discord.abc.User, guild: discord.Guild | None, permissions: discord.Permissions | None = None
) -> bool:
    """Manage Server, an admin role, or listed in admin_users / owners."""
    cfg = bot.config.discord
    if user.id in cfg.owners or user.id in cfg.admin_users:
        return True
    if guild is None or not isinstance(user, discord.Member):
        return False
    if guild.owner_id == user.id:
        return True
    perms = user.guild_permissions
    if perms.manage_guild or perms.administrator:
        return True
    if permissions is not None and permissions.administrator:
        return True
    admin_roles = set(cfg.admin_roles)
    return any(role.id in admin_roles for role in user.roles)


def admin_only():
    """Runtime admin check (raises NotAdmin)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not is_admin(interaction.client, interaction.user, interaction.guild, interaction.permissions):
            raise NotAdmin()
        return True

    return app_commands.check(predicate)


def check_capacity(bot, kind: str | None, user_id: int) -> None:
    """Refuse when the heavy queue is full, then apply the per-user cooldown ``kind`` (ask / search):
    raises Busy or CommandOnCooldown. For slash commands (``guard``) and questions asked by mention."""
    bot.heavy.check()
    if kind:
        per = float(getattr(bot.config.discord, f"{kind}_cooldown_seconds"))
        retry = bot.cooldowns.retry_after(kind, user_id, per)
        if retry:
            raise app_commands.CommandOnCooldown(app_commands.Cooldown(1, per), retry)


def guard(kind: str | None = None):
    """Refuse when the heavy queue is full, then apply the per-user cooldown ``kind`` (ask / search)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        check_capacity(bot_of(interaction), kind, interaction.user.id)
        return True

    return app_commands.check(predicate)


def server_cooldown_left(bot, kind: str, interaction: discord.Interaction) -> float:
    """Seconds before this server may run ``kind`` (import, reindex) again: once per server every
    ``{kind}_cooldown_seconds`` counted from the last one that ran (a refused one does not count),
    so one server's admins cannot keep the bot importing or re-embedding for everyone. Bot owners
    are not held. :func:`record_server_use` records a use."""
    if interaction.guild_id is None or is_owner(bot, interaction.user.id):
        return 0.0
    per = float(getattr(bot.config.discord, f"{kind}_cooldown_seconds"))
    return bot.cooldowns.left(f"server {kind}", interaction.guild_id, per)


def record_server_use(bot, kind: str, interaction: discord.Interaction) -> None:
    if interaction.guild_id is not None:
        bot.cooldowns.record(f"server {kind}", interaction.guild_id)


def server_cooldown(kind: str):
    """Refuse (CommandOnCooldown) while :func:`server_cooldown_left` says so."""

    async def predicate(interaction: discord.Interaction) -> bool:
        bot = bot_of(interaction)
        retry = server_cooldown_left(bot, kind, interaction)
        if retry:
            per = float(getattr(bot.config.discord, f"{kind}_cooldown_seconds"))
            raise app_commands.CommandOnCooldown(app_commands.Cooldown(1, per), retry)
        return True

    return app_commands.check(predicate)


def reader_scope(bot, user_id: int, guild_id: int | None) -> Scope:
    """What a reader sees: in a server, its feeds plus the global ones; in DMs, the global feeds
    (bot owners see everything)."""
    if guild_id is not None:
        return Scope(guild_id=guild_id, everything=False)
    if is_owner(bot, user_id):
        return GLOBAL
    return Scope(guild_id=None, everything=False)


def admin_scope(bot, user_id: int, guild_id: int | None) -> Scope:
    """What an admin manages: bot owners everything, server admins their server's feeds."""
    if is_owner(bot, user_id):
        return GLOBAL
    return Scope(guild_id=guild_id, everything=False)


def interaction_reader_scope(interaction: discord.Interaction) -> Scope:
    return reader_scope(interaction.client, interaction.user.id, interaction.guild_id)


def interaction_admin_scope(interaction: discord.Interaction) -> Scope:
    return admin_scope(interaction.client, interaction.user.id, interaction.guild_id)
