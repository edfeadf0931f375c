"""The LLM answerer's streaming path against a real local server that streams server-sent events
slowly (127.0.0.1): drafts grow as the reply comes, the final answer is the checked one, and a
stream cut mid-way falls back to the extractive answer. Also the terminal: `ask` and chat print
the draft as it comes."""

from __future__ import annotations

import dataclasses
import itertools
import os
import pty
import re
import subprocess

import pytest
import support.answers as H
from support.config import NEWSDESK, cli_env
from support.streaming_llm import Reply, StreamingLLMServer

from index.cli.session import run_chat
from index.config import AnswersConfig

CHESS_Q = "Who won the national chess championship?"


@pytest.fixture(scope="module")
def llm():
    server = StreamingLLMServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, llm):
    data = tmp_path_factory.mktemp("llm-stream") / "data"
    config = dataclasses.replace(
        H.make_config(data), answers=AnswersConfig(llm_url=llm.url, llm_model="test", llm_timeout_seconds=2.0)
    )
    desk, served = H.build_desk(data, config)
    yield desk, served
    desk.close()


@pytest.fixture
def desk(setup, llm):
    llm.replies.clear()
    llm.requests.clear()
    llm.sent.clear()
    return setup[0]


def supported_reply(desk) -> tuple[str, list]:
    hits = desk.retriever.search(CHESS_Q, limit=8).hits[:5]
    first = hits[0].passage.text.split(". ")[0]
    return (
        f"{first} [1]. The young champion defeated three grandmasters [1]. "
        "The prodigy also invented a cure for baldness in Norway [1].",
        hits,
    )


def test_drafts_grow_as_the_stream_comes_and_the_answer_is_the_checked_one(desk, llm, setup):
    reply, hits = supported_reply(desk)
    llm.replies.append(Reply.of(reply, interval=0.05))
    drafts: list[str] = []
    answer = desk.reading.ask(CHESS_Q, on_draft=drafts.append)
    assert llm.requests[0]["body"]["stream"] is True
    assert len(drafts) == len(Reply.of(reply).pieces) >= 10
    assert all(later.startswith(earlier) and len(later) > len(earlier) for earlier, later in itertools.pairwise(drafts))
    assert drafts[-1] == reply  # the raw draft, unchecked
    # the final answer: citations checked on the full text, the unsupported sentence gone
    assert answer.mode == "llm"
    assert "baldness" not in answer.text and "grandmasters" in answer.text
    assert [c.article.url for c in answer.citations] == [setup[1].links["chess"]]
    assert answer.citations[0].article.id == hits[0].article.id


def test_a_stream_cut_mid_way_falls_back_to_extractive(desk, llm, setup):
    reply, _ = supported_reply(desk)
    llm.replies.append(Reply.of(reply, interval=0.02, cut_after=4))
    drafts: list[str] = []
    answer = desk.reading.ask(CHESS_Q, on_draft=drafts.append)
    assert len(drafts) == 4  # the draft the user saw so far...
    assert answer.mode == "extractive (LLM unavailable)"  # ...is replaced by the extractive answer
    assert any("the stream broke off" in n for n in answer.notices)
    assert answer.citations and answer.citations[0].article.url == setup[1].links["chess"]


def test_a_stream_that_stalls_falls_back(desk, llm):
    reply, _ = supported_reply(desk)
    llm.replies.append(Reply.of(reply, interval=3.0))  # longer than llm_timeout_seconds between pieces
    answer = desk.reading.ask(CHESS_Q, on_draft=lambda text: None)
    assert answer.mode == "extractive (LLM unavailable)"
    assert any("timed out" in n for n in answer.notices)


def test_without_a_draft_callback_nothing_is_streamed(desk, llm):
    reply, _ = supported_reply(desk)
    llm.replies.append(Reply.of(reply))
    answer = desk.reading.ask(CHESS_Q)
    assert "stream" not in llm.requests[0]["body"]
    assert answer.mode == "llm"


def test_the_extractive_answerer_ignores_the_draft_callback(tmp_path_factory):
    desk, _ = H.shared_desk(tmp_path_factory)
    drafts: list[str] = []
    answer = desk.reading.ask(CHESS_Q, on_draft=drafts.append)
    assert not desk.reading.streams and drafts == [] and answer.mode == "extractive"


def test_chat_prints_the_draft_as_it_comes_then_the_checked_answer(desk, llm):
    reply, _ = supported_reply(desk)
    llm.replies.append(Reply.of(reply))
    pending = [CHESS_Q]
    out: list[str] = []
    written: list[str] = []
    run_chat(
        desk,
        input_fn=lambda prompt: pending.pop(0) if pending else (_ for _ in ()).throw(EOFError),
        output=out.append,
        stream=written.append,
    )
    assert len(written) > 5 and "".join(written).rstrip() == reply  # piece by piece, nothing repeated
    checked = out[1]
    assert checked.startswith(f"{reply.split(' [1]')[0]}. [1]") and "baldness" not in checked
    assert "Sources:" in checked and "(answer mode: llm)" in checked


def test_newsdesk_ask_on_a_terminal_prints_the_draft_then_the_checked_answer(desk, llm, setup, tmp_path):
    """The real command with its stdout on a pseudo-terminal."""
    reply, _ = supported_reply(desk)
    llm.replies.append(Reply.of(reply, interval=0.05))
    config = tmp_path / "newsdesk.toml"
    config.write_text(
        f'[embedding]\nmodel = "hash-embedder-256"\n\n[answers]\nllm_url = "{llm.url}"\n'
        'llm_model = "test"\nllm_timeout_seconds = 2.0\n'
    )
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(NEWSDESK), "--config", str(config), "ask", CHESS_Q],
        env=cli_env(desk.config.data_dir),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode()).replace("\r\n", "\n")
    assert proc.returncode == 0, proc.stderr.read()
    draft, _, checked = text.partition("\n\n")
    assert draft == reply  # the raw draft first, as it came
    assert llm.requests[0]["body"]["stream"] is True
    assert "baldness" not in checked and "Sources:" in checked and "(answer mode: llm)" in checked
