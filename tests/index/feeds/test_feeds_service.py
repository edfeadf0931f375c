"""The feeds service: a server manages its own feeds only; seeing a feed is not managing it."""

from __future__ import annotations

import pytest

from index.errors import NotFound, PermissionDenied
from index.models import Scope


def test_feeds_are_managed_by_their_server_only(two_servers):
    desk, one, two, shared = two_servers
    with pytest.raises(NotFound):
        desk.feeds.find(two.id, Scope(1, everything=False), manage=True)
    with pytest.raises(PermissionDenied):
        desk.feeds.find(shared.id, Scope(1, everything=False), manage=True)
    assert desk.feeds.find(shared.id, Scope(1, everything=False)).id == shared.id  # seeing is not managing
