"""The /feeds cog: the parts, one per concern, put together over one command group."""

from __future__ import annotations

from discord.ext import commands

from . import _group

# isort: off
# Importing a part registers its commands on the group: this order is the order Discord lists them in.
from ._adding import Adding
from ._catalogue import Catalogue
from ._opml import Opml
from ._filters import Filters
from ._templates import Templates
from ._pings import Pings
from ._options import Options
from ._why import Why
from ._limits import Limits

# isort: on


class Feeds(Adding, Catalogue, Opml, Filters, Templates, Pings, Options, Why, Limits, commands.Cog):
    feeds = _group.feeds  # the cog binds a copy of the group (and every part's commands on it) to itself

    def __init__(self, bot):
        self.bot = bot
