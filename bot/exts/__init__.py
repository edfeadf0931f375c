"""Bot extensions, one per feature, grouped by area (python-discord/bot style): each module has
``async def setup(bot)``; ``bot.walk_extensions`` finds them (a name starting with ``_`` is a helper)."""
