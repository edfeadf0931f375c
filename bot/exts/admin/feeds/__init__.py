"""/feeds (admins) and /subscribe, /unsubscribe (members), one file per concern:

* ``_group`` — the ``/feeds`` command group and what every part of the cog shares;
* ``_adding`` — ``/feeds add`` (with discovery: ``_discovered`` is the menu when a page offers several feeds);
* ``_catalogue`` — ``/feeds remove``, ``/feeds list``;  ``_opml`` — ``/feeds import``, ``/feeds export``;
* ``_filters``, ``_templates``, ``_pings``, ``_options`` — how a feed posts (``/feeds filter|template|ping|options``);
* ``_why`` — ``/feeds why`` (the delivery log);  ``_limits`` — ``/feeds limits`` (flood control);
* ``_cog`` — the ``Feeds`` cog that puts those parts together;  ``_subscriptions`` — the members' cog.

Every /feeds command is hidden from non-admins by ``default_permissions`` (Manage Server), is
guild-only, AND checks at run time (``admin_only``): server owners can open command permissions to
anyone. Bot owners act on every feed; server admins on their server's feeds (the service raises
PermissionDenied / NotFound for the others).
"""

from __future__ import annotations

from ._cog import Feeds
from ._subscriptions import Subscriptions

__all__ = ["Feeds", "Subscriptions", "setup"]


async def setup(bot) -> None:
    await bot.add_cog(Feeds(bot))
    await bot.add_cog(Subscriptions(bot))
