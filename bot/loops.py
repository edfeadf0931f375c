"""A cog that runs one job on a timer once the bot is ready; the loop survives any error."""

from __future__ import annotations

from discord.ext import commands, tasks

from . import errors


class PeriodicCog(commands.Cog):
    """Subclasses set ``job`` (a name for the logs) and implement ``tick``; ``start=False`` builds
    the loop without starting it (polling with ``--no-poll``)."""

    job = "job"

    def __init__(self, bot, *, seconds: float = 0, minutes: float = 0, start: bool = True):
        self.bot = bot
        self._start = start
        self.loop = tasks.loop(seconds=seconds, minutes=minutes)(self._tick)
        self.loop.before_loop(self._before_loop)

    async def cog_load(self) -> None:
        if self._start:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()

    async def _before_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def _tick(self) -> None:
        try:
            await self.tick()
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            errors.log_error(exc, self.job)

    async def tick(self) -> None:
        raise NotImplementedError
