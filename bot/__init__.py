"""The Discord layer: a thin shell over :class:`index.service.Newsdesk`.

Cogs parse an interaction, call the (synchronous) service off the event loop with
``asyncio.to_thread`` and render the result. Public API::

    create_bot(config, desk=None, *, poll=None) -> commands.Bot
    run_bot(config, token, desk=None, poll=True) -> None
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import pkgutil
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from index.config import Config
from index.service import Newsdesk, install_redaction

from . import errors, exts
from .checks import Cooldowns, HeavyGate, mark_server
from .views import dynamic_items

log = logging.getLogger("bot")


def walk_extensions() -> tuple[str, ...]:
    """Every extension under ``bot/exts``, found by walking it (python-discord/bot style): a module,
    or a package with ``setup``. Names that start with ``_`` are helpers, never extensions."""
    found = []
    for module in pkgutil.walk_packages(exts.__path__, f"{exts.__name__}."):
        if module.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        if module.ispkg and not inspect.isfunction(getattr(importlib.import_module(module.name), "setup", None)):
            continue  # a folder of extensions (an area), not an extension itself
        found.append(module.name)
    return tuple(found)


# one extension per feature (bot/exts/<area>/<feature>.py or a package, each with ``async def setup(bot)``)
EXTENSIONS = walk_extensions()

__all__ = ["create_bot", "run_bot", "NewsdeskBot", "ShardedNewsdeskBot", "EXTENSIONS", "walk_extensions"]


def intents(members: bool = False) -> discord.Intents:
    """Default intents. Mentions of the bot and DMs carry their content without the privileged
    message_content intent, and that is all the mention/DM handler reads. ``members`` (privileged,
    enabled in the developer portal first) lets the bot hear members leave at once; without it,
    membership is asked before each DM delivery."""
    chosen = discord.Intents.default()
    chosen.members = members
    return chosen


if TYPE_CHECKING:  # for the type checker the mixin is a Bot (it is only ever mixed into one)
    _BotBase = commands.Bot
else:
    _BotBase = object


class _NewsdeskMixin(_BotBase):
    """Shared by the plain and the auto-sharded bot."""

    config: Config
    desk: Newsdesk

    def _setup_newsdesk(self, config: Config, desk: Newsdesk, poll: bool, owns_desk: bool) -> None:
        self.config = config
        self.desk = desk
        self.poll_enabled = poll
        self._owns_desk = owns_desk
        self.cooldowns = Cooldowns()
        self.heavy = HeavyGate(config.discord.max_concurrent_heavy, per_server=config.discord.max_heavy_per_server)
        self.synced_commands: list[discord.app_commands.AppCommand] = []
        self.tree.error(errors.on_app_command_error)
        self.tree.interaction_check = _mark_server  # type: ignore[method-assign]  # each server's share

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*dynamic_items())
        await asyncio.to_thread(_warm_up, self.desk)
        self.synced_commands = await self.sync_commands()

    async def sync_commands(self) -> list[discord.app_commands.AppCommand]:
        """Sync to the configured guilds (instant) or globally."""
        guilds = self.config.discord.guilds
        if not guilds:
            return await self.tree.sync()
        synced: list[discord.app_commands.AppCommand] = []
        for guild_id in guilds:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced += await self.tree.sync(guild=guild)
        return synced

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: mentions and DMs are handled by the ask cog's listener."""
        return None

    async def call(self, fn, /, *args, **kwargs):
        """Run a blocking service call in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def heavy_call(self, fn, /, *args, **kwargs):
        """A blocking, heavy service call: waits for a free slot, then runs in a worker thread."""
        async with self.heavy.slot():
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def close(self) -> None:
        await super().close()
        if self._owns_desk:
            try:
                self.desk.close()
            except Exception:  # noqa: BLE001 - closing on the way out
                log.debug("closing the desk failed", exc_info=True)


class NewsdeskBot(_NewsdeskMixin, commands.Bot):
    pass


class ShardedNewsdeskBot(_NewsdeskMixin, commands.AutoShardedBot):
    pass


async def _mark_server(interaction: discord.Interaction) -> bool:
    """Before every slash command: its heavy calls count against its server's share of the gate."""
    mark_server(interaction.guild_id, interaction.user.id)
    return True


def _warm_up(desk: Newsdesk) -> None:
    """Load the date parser's data once, so validating /ask options before deferring stays instant."""
    try:
        desk.reading.check_query(None, since="yesterday")
    except Exception:  # noqa: BLE001 - only a warm-up
        pass


def create_bot(config: Config, desk: Newsdesk | None = None, *, poll: bool | None = None) -> commands.Bot:
    """Build (not start) the bot. ``poll`` defaults to ``config.discord.poll``."""
    owns = desk is None
    if desk is None:
        desk = Newsdesk(config)
    poll = config.discord.poll if poll is None else poll
    if poll:  # the polling bot writes the index: refused at start-up while another process does
        desk.indexing.hold_writer("the bot (polling)")
    options: dict[str, Any] = dict(
        command_prefix=commands.when_mentioned,  # never used: on_message does not process commands
        intents=intents(config.discord.members_intent),
        chunk_guilds_at_startup=False,  # the members intent is for leave events, not a member list
        allowed_mentions=discord.AllowedMentions.none(),
        help_command=None,
    )
    if config.discord.shards > 0:
        bot: commands.Bot = ShardedNewsdeskBot(shard_count=config.discord.shards, **options)
    else:
        bot = NewsdeskBot(**options)
    bot._setup_newsdesk(config, desk, poll, owns)  # type: ignore[attr-defined]
    return bot


def run_bot(config: Config, token: str, desk: Newsdesk | None = None, poll: bool = True) -> None:
    """Run the bot until interrupted (used by ``newsdesk run``)."""
    root = logging.getLogger()
    if not root.handlers:
        discord.utils.setup_logging(level=logging.INFO)
    install_redaction(config.answers.llm_api_key_env)
    bot = create_bot(config, desk, poll=poll)
    bot.run(token, log_handler=None)
