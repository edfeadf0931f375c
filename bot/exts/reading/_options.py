"""The options /ask and /search share (which outlet, from when, up to when), declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from discord import app_commands

from ...autocomplete import source_autocomplete

T = TypeVar("T", bound=Callable)

DESCRIPTIONS = {
    "source": "Only this outlet (e.g. Reuters)",
    "since": "Only coverage from this date on (2024-03-15, 'last week'…)",
    "until": "Only coverage up to this date",
}


def coverage_options(command: T) -> T:
    """Describe a command's ``source``, ``since`` and ``until`` parameters and auto-complete its
    source (the parameters themselves stay in the command's signature, where discord.py reads them)."""
    described = app_commands.describe(**DESCRIPTIONS)(command)
    return app_commands.autocomplete(source=source_autocomplete)(described)
