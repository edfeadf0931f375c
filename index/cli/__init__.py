"""The `newsdesk` command: thin click commands over :class:`index.service.Newsdesk`, and the
terminal session (`newsdesk chat`)."""

from __future__ import annotations

from .commands import cli, main

__all__ = ["cli", "main"]
