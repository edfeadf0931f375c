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
import contextvars
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


# the server (or, in DMs, minus the member's id) whose command runs in this task: set when an
# interaction or a mention arrives, read by the heavy gate to give each server its own share
current_server: contextvars.ContextVar[int | None] = contextvars.ContextVar("newsdesk_server", default=None)
_CURRENT = object()


class _Share:
    """One server's part of the heavy gate: its own slots and queue."""

    def __init__(self, slots: int) -> None:
        self.sem = asyncio.Semaphore(slots)
        self.waiting = 0
        self.users = 0


class HeavyGate:
    """A semaphore for heavy work with a bounded queue, shared fairly between servers: a server
    runs at most ``per_server`` heavy calls at once (default: half the slots, at least one) and
    queues at most ``per_server * queue_per_slot``; only calls within their server's share wait for
    the global slots. So one server's members can fill only their own queue: the other servers are
    never "busy" because of them."""

    def __init__(self, slots: int, queue_per_slot: int = QUEUE_PER_SLOT, per_server: int = 0) -> None:
        self.slots = max(1, int(slots))
        self.per_server = min(self.slots, int(per_server) or max(1, (self.slots + 1) // 2))
        self.max_waiting = self.slots * queue_per_slot
        self.max_waiting_per_server = self.per_server * queue_per_slot
        self._sem = asyncio.Semaphore(self.slots)
        self._shares: dict[int | None, _Share] = {}
        self.waiting = 0  # every call waiting, in its server's queue or for a global slot
        self.running = 0
        self.peak = 0

    @property
    def full(self) -> bool:
        return self.waiting >= self.max_waiting

    def _key(self, server) -> int | None:
        return current_server.get() if server is _CURRENT else server

    def full_for(self, server=_CURRENT) -> bool:
        """Whether a new heavy call of this server would be refused: its own queue is full, or the
        whole queue is (which one server's share alone never fills: it takes several at once)."""
        share = self._shares.get(self._key(server))
        own = share is not None and share.waiting >= self.max_waiting_per_server
        return own or self.full

    def check(self, server=_CURRENT) -> None:
        if self.full_for(server):
            raise Busy()

    @contextlib.asynccontextmanager
    async def slot(self, server=_CURRENT):
        key = self._key(server)
        share = self._shares.get(key)
        if share is None:
            share = self._shares[key] = _Share(self.per_server)
        share.users += 1
        held_share = held_global = False
        try:
            await self._acquire(share.sem, share)  # the server's own share first: its queue waits here
            held_share = True
            await self._acquire(self._sem, None)
            held_global = True
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                yield
            finally:
                self.running -= 1
        finally:
            if held_global:
                self._sem.release()
            if held_share:
                share.sem.release()
            share.users -= 1
            if not share.users:
                self._shares.pop(key, None)  # an idle server keeps no state

    async def _acquire(self, sem: asyncio.Semaphore, share: _Share | None) -> None:
        """Wait for ``sem``, counted as waiting (and in the server's queue, for its ``share``)."""
        self.waiting += 1
        if share is not None:
            share.waiting += 1
        try:
            await sem.acquire()
        finally:
            self.waiting -= 1
            if share is not None:
                share.waiting -= 1


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


def mark_server(guild_id: int | None, user_id: int) -> None:
    """Whose share of the heavy gate this task's heavy calls use: the server, or in DMs the member."""
    current_server.set(guild_id if guild_id is not None else -user_id)


def check_capacity(bot, kind: str | None, user_id: int) -> None:
    """Refuse when this server's heavy queue (or the global one) is full, then apply the per-user
    cooldown ``kind`` (ask / search): raises Busy or CommandOnCooldown. For slash commands
    (``guard``) and questions asked by mention."""
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
