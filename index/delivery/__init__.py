"""Delivery: what the auto-poster does with each new article of a feed with a channel —
filters (:mod:`.filters`), flood control (:mod:`.limits`) and the delivery log the archive keeps
(:mod:`index.archive.delivery`). Plain services; the bot's cogs and the ``newsdesk feeds`` commands
call them through :class:`index.service.Newsdesk`."""
