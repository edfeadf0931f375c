"""The outbox's drain: every ``DRAIN_SECONDS`` each bot settles the deliveries that are due —
retries, unknown outcomes (looked up in the channel first) and those a dead process left — of
any kind and whoever queued them (see bot/delivery.py)."""

from __future__ import annotations

from ...delivery import Deliveries


async def setup(bot) -> None:
    await bot.add_cog(Deliveries(bot))
