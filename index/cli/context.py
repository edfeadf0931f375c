"""What every `newsdesk` command is handed: the config (read once) and the desk (built on first use)."""

from __future__ import annotations

import click

from ..config import Config, load_config
from ..service import Newsdesk


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config: Config | None = None
        self._desk: Newsdesk | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def desk(self) -> Newsdesk:
        if self._desk is None:
            self._desk = Newsdesk(self.config)
        return self._desk


pass_ctx = click.make_pass_decorator(Context)
