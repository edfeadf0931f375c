"""Bot extensions, one per feature, grouped by area (python-discord/bot style): each module has
``async def setup(bot)`` and is listed in ``bot.EXTENSIONS``."""
