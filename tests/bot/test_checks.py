"""bot.checks: cooldowns, the heavy-work gate, scopes; bot.progress: throttled edits."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.checks import Cooldowns, HeavyGate, admin_scope, reader_scope
from bot.errors import Busy
from bot.progress import ProgressMessage
from index.models import GLOBAL


def test_cooldowns(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cd = Cooldowns()
    assert cd.retry_after("ask", 1, 10) == 0
    assert cd.retry_after("ask", 1, 10) == pytest.approx(10)
    assert cd.retry_after("ask", 2, 10) == 0 and cd.retry_after("search", 1, 3) == 0
    now[0] += 9.5
    assert cd.retry_after("ask", 1, 10) == pytest.approx(0.5)
    now[0] += 0.6
    assert cd.retry_after("ask", 1, 10) == 0
    assert cd.retry_after("ask", 1, 0) == 0  # disabled


async def test_heavy_gate_limits_and_refuses_when_the_queue_is_full():
    gate = HeavyGate(2, queue_per_slot=2, per_server=2)  # one server may use every slot here
    release = asyncio.Event()

    async def work():
        async with gate.slot():
            await release.wait()

    tasks = [asyncio.create_task(work()) for _ in range(6)]
    await asyncio.sleep(0)
    assert gate.running == 2 and gate.waiting == 4 and gate.full
    with pytest.raises(Busy):
        gate.check()
    release.set()
    await asyncio.gather(*tasks)
    assert gate.running == 0 and gate.waiting == 0 and gate.peak == 2
    gate.check()


async def test_one_server_fills_only_its_own_share_of_the_heavy_gate():
    """Server A's members start every heavy call the gate admits: A runs its share (2 of 4 slots)
    and queues its own part; then A is busy, server B is not, and B's call runs at once beside A's."""
    gate = HeavyGate(4, queue_per_slot=2)
    release = asyncio.Event()
    ran: list[str] = []

    async def work(server: int, name: str):
        async with gate.slot(server):
            ran.append(name)
            if server == 1:
                await release.wait()

    flood = []
    while not gate.full_for(1) and len(flood) < 100:  # as the commands' guard admits them
        flood.append(asyncio.create_task(work(1, f"a{len(flood)}")))
        await asyncio.sleep(0)
    assert len(flood) == 2 + 4 and gate.running == 2 and gate.waiting == 4
    with pytest.raises(Busy):
        gate.check(1)
    gate.check(2)  # another server is not busy
    await asyncio.wait_for(work(2, "b"), timeout=5)  # and runs while A's calls hold their slots
    assert ran[-1] == "b" and gate.running == 2
    release.set()
    await asyncio.gather(*flood)
    assert gate.running == 0 and gate.waiting == 0 and gate.peak == 3 and not gate._shares


class FakeBot:
    class config:
        class discord:
            owners = [1]


def test_scopes():
    bot = FakeBot()
    assert reader_scope(bot, 5, 77).guild_id == 77 and reader_scope(bot, 5, 77).scoped
    assert reader_scope(bot, 5, None).guild_id is None and reader_scope(bot, 5, None).scoped  # DMs: global feeds only
    assert reader_scope(bot, 1, None) == GLOBAL
    assert admin_scope(bot, 1, 77) == GLOBAL
    assert admin_scope(bot, 5, 77).guild_id == 77 and admin_scope(bot, 5, 77).scoped


async def test_progress_throttles_edits_and_ends_with_a_summary():
    shown = []

    async def edit(text):
        shown.append(text)

    def job(progress):
        progress("start", feeds=3)
        for _ in range(3):
            progress("feed", feed=None, status="ok", error=None, articles=2)
        progress("embedding", pending=6)
        progress("embedded", count=6)
        return "report"

    slow = ProgressMessage(edit, "Working", min_interval=60)
    assert await slow.run(job) == "report"
    assert len(shown) == 1  # the first event only; the rest fell inside the interval
    assert "embedded 6/6 passages" in slow.text() and "feeds 3/3" in slow.text()
    await slow.finish("done!")
    assert shown[-1] == "done!" and len(shown) == 2

    shown.clear()
    fast = ProgressMessage(edit, "Working", min_interval=0)
    await fast.run(job)
    assert len(shown) == 6 and shown[-1].endswith("embedded 6/6 passages")
