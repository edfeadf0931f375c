"""/ask with the LLM answerer streaming: one message shows the draft as it is written, edited at most
once a second, and the final edit is the checked answer. The LLM is a real local server streaming
server-sent events slowly (127.0.0.1)."""

from __future__ import annotations

import itertools
import time

import pytest
from support.archive import archived_urls
from support.streaming_llm import Reply, StreamingLLMServer

from index.config import AnswersConfig, Config, DataConfig, EmbeddingConfig, FeedsConfig

VOLCANO = "What happened with the volcano in Iceland?"
REPLY = (
    "A volcano on the Reykjanes peninsula erupted near the fishing town of Grindavik in Iceland on Monday [1]. "
    "Lava fountains rose into the night sky and residents of Grindavik were evacuated as lava flowed toward "
    "the town [1]. Officials said the eruption was started by visiting aliens from a distant galaxy [1]."
)


@pytest.fixture(scope="module")
def llm():
    server = StreamingLLMServer()
    yield server
    server.close()


@pytest.fixture
def config(tmp_path, discord_config, llm) -> Config:
    llm.replies.clear()
    llm.requests.clear()
    return Config(
        data=DataConfig(dir=str(tmp_path / "data")),
        embedding=EmbeddingConfig(model="hash-embedder-256"),
        feeds=FeedsConfig(
            allow_private_networks=True, fetch_full_text="never", workers=4, retries=0, timeout_seconds=20.0
        ),
        discord=discord_config,
        answers=AnswersConfig(llm_url=llm.url, llm_model="test", llm_timeout_seconds=5.0),
    )


class TimedLog(list):
    """simcord's REST log, with the time each request arrived."""

    def __init__(self, items):
        super().__init__(items)
        self.at = [0.0] * len(items)

    def append(self, item):
        self.at.append(time.perf_counter())  # real time (simcord virtualises time.monotonic)
        super().append(item)


def message_writes(env):
    log = env.backend.http_requests
    return [
        (at, r)
        for at, r in zip(log.at, log, strict=True)
        if "/webhooks/" in r.path and r.method in ("POST", "PATCH") and isinstance(r.json, dict)
    ]


async def test_ask_streams_into_one_message_edited_at_most_once_a_second(world, desk, llm):
    world.env.backend.http_requests = TimedLog(world.env.backend.http_requests)
    llm.replies.append(Reply.of(REPLY, words_per_piece=2, interval=0.12))  # about 3 s of drafting
    result = await world.member.slash(world.general, "ask", question=VOLCANO)
    assert llm.requests and llm.requests[0]["body"]["stream"] is True

    writes = message_writes(world.env)
    (first_at, first), *edits = writes
    assert first.method == "POST" and edits and all(r.method == "PATCH" for _, r in edits)
    assert len({r.path for _, r in edits}) == 1  # always the same message
    drafts = [first.json["content"]] + [r.json["content"] for _, r in edits[:-1]]
    assert len(drafts) >= 2
    assert all(d.startswith("✍️") for d in drafts)
    assert all(len(b) > len(a) for a, b in itertools.pairwise(drafts))  # the draft grows
    times = [first_at] + [at for at, _ in edits]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0, gaps
    assert len(writes) <= 6  # ~3 s of drafting: no edit per token

    # the final edit is the checked answer: an embed, the draft text gone, the unsupported sentence dropped
    final = edits[-1][1].json
    assert final["content"] in (None, "") and final["embeds"]
    embed = result.response.embeds[0]
    assert embed.title == VOLCANO and not result.response.content
    assert "Grindavik" in embed.description and "[1]" in embed.description
    assert "aliens" not in embed.description
    assert world.general.last_message.embeds[0].title == VOLCANO
    assert world.general.last_message.content in (None, "")
    links = [url for url in archived_urls(desk) if url in embed.description]
    assert links
    assert len([m for m in world.general.history() if m.author.id == world.bot.user.id]) == 1


async def test_a_stream_that_breaks_ends_with_the_extractive_answer_in_the_same_message(world, desk, llm):
    llm.replies.append(Reply.of(REPLY, words_per_piece=2, interval=0.15, cut_after=12))
    result = await world.member.slash(world.general, "ask", question=VOLCANO)
    embed = result.response.embeds[0]
    assert "Grindavik" in embed.description and "aliens" not in embed.description
    assert not result.response.content
    assert len([m for m in world.general.history() if m.author.id == world.bot.user.id]) == 1


async def test_an_answer_without_any_draft_is_sent_once(world, desk, llm):
    result = await world.member.slash(world.general, "ask", question="Explain quantum entanglement photonics")
    assert not llm.requests  # nothing relevant: the model is not asked
    assert "couldn't find" in result.response.embeds[0].description
    assert not [r for r in world.env.http_requests if r.method == "PATCH" and "/webhooks/" in r.path]


async def test_the_draft_is_inert(world, desk, llm):
    """The draft is unchecked model output: no pings, no live markdown links."""
    hostile = "@everyone look [here](http://evil.example/) now " * 3 + REPLY
    llm.replies.append(Reply.of(hostile, words_per_piece=3, interval=0.1))
    await world.member.slash(world.general, "ask", question=VOLCANO)
    posts = [
        r
        for r in world.env.http_requests
        if "/webhooks/" in r.path and isinstance(r.json, dict) and (r.json.get("content") or "").startswith("✍️")
    ]
    assert posts
    for r in posts:
        assert "@everyone" not in r.json["content"] and "[here](http" not in r.json["content"]
        assert r.json["allowed_mentions"]["parse"] == []
