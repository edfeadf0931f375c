"""The LLM answerer against a REAL llama.cpp server running a REAL model (Gemma 3 270M) on the CPU.

`make test-llm` (or `pytest -m llm_server` once llama-cpp-python[server] and the model package are
installed); skipped otherwise. Each question goes through the real service: feeds served on
127.0.0.1, ingested into SQLite and Chroma, `Newsdesk.reading.ask` with answers.llm_url pointing at the
server. The model's raw reply is recorded on the way back (a pass-through httpx transport), so the
tests can say exactly what the citation check kept, dropped or fell back from.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
import support.answers as H
from support.llm_server import MODEL_ALIAS, LlamaServer, require_llama_server

from index.answers.citations import build_answer, check_citations
from index.service import Newsdesk
from index.text.words import content_words
from index.vectors.embedders import HashEmbedder

pytestmark = pytest.mark.llm_server

QUESTIONS = [
    "Who won the national chess championship?",
    "What happened to the vineyards in the southern valley?",
    "Why did the honey harvest collapse?",
    "How many passengers does the electric ferry carry?",
]
UNAVAILABLE = "extractive (LLM unavailable)"
UNSUPPORTED = "extractive (LLM answer unsupported)"
_CITE = re.compile(r"\[(\d{1,3})\]")


class RecordingTransport(httpx.HTTPTransport):
    """The real transport, recording each exchange: the request body, then the reply or the error."""

    def __init__(self):
        super().__init__()
        self.exchanges: list[dict] = []
        self.sending = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = {"request": json.loads(request.content), "status": None, "reply": None, "error": None}
        self.exchanges.append(exchange)
        self.sending.set()
        try:
            response = super().handle_request(request)
            response.read()
        except Exception as exc:
            exchange["error"] = exc.__class__.__name__
            raise
        exchange["status"] = response.status_code
        try:
            exchange["reply"] = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        return response


@pytest.fixture(scope="module")
def server():
    require_llama_server()
    with LlamaServer() as running:
        yield running


@pytest.fixture(scope="module")
def archive(tmp_path_factory, server):
    """(desk, served): the answers test archive, answered by the real model (generous timeout)."""
    data = tmp_path_factory.mktemp("llm-server") / "data"
    config = H.make_config(data)
    config = dataclasses.replace(
        config,
        answers=dataclasses.replace(
            config.answers, llm_url=server.url, llm_model=MODEL_ALIAS, llm_timeout_seconds=240.0
        ),
    )
    desk, served = H.build_desk(data, config)
    yield desk, served
    desk.close()


def desk_with(archive, **answers) -> Newsdesk:
    """Another desk on the same archive with other answers.* settings."""
    desk = archive[0]
    config = dataclasses.replace(desk.config, answers=dataclasses.replace(desk.config.answers, **answers))
    return Newsdesk(config, embedder=HashEmbedder())


def recorded(desk) -> RecordingTransport:
    transport = RecordingTransport()
    desk.reading.answerer.transport = transport
    return transport


def assert_citations_valid(desk, served, answer) -> None:
    """Every [n] in the text is a listed source, numbered 1..k in order, each an archived article."""
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    used = [int(n) for n in _CITE.findall(answer.text)]
    assert used, answer.text
    assert set(used) == set(numbers), (used, numbers)
    for c in answer.citations:
        assert desk.archive.article_exists(c.article.id)
        assert c.article.url in served.links.values()
        assert desk.archive.get_article(c.article.url).title == c.article.title


def extractive_text(desk, question) -> str:
    return desk.reading.extractive.answer(question, desk.retriever.search(question)).text


@pytest.mark.parametrize("question", QUESTIONS)
def test_real_answer_has_valid_citations_and_passed_the_support_check(archive, question, record_property):
    desk, served = archive
    transport = recorded(desk)
    started = time.perf_counter()
    answer = desk.reading.ask(question)
    seconds = time.perf_counter() - started
    assert len(transport.exchanges) == 1
    exchange = transport.exchanges[0]
    assert exchange["error"] is None and exchange["status"] == 200, exchange
    body = exchange["request"]
    assert body["model"] == MODEL_ALIAS and body["temperature"] == 0.0 and body["max_tokens"] == 400
    reply = exchange["reply"]
    assert isinstance(reply, str) and reply.strip(), "the model answered nothing"
    assert not answer.abstained
    assert_citations_valid(desk, served, answer)
    assert "{" not in answer.text and '"title"' not in answer.text  # no echo of the prompt's JSON

    # The support check, recomputed on the model's raw reply over the same hits.
    result = desk.retriever.search(question)
    hits = result.hits[:5]
    kept = check_citations(reply.strip(), hits)
    if kept:
        assert answer.mode == "llm"
        assert answer.text == build_answer(question, result, kept, mode="llm").text
        for text, index in kept:  # each kept sentence shares 3+ content words with the article it cites
            article_words = content_words(
                " ".join([hits[index].article.title] + [p.text for p in hits[index].passages])
            )
            assert len(content_words(text) & article_words) >= 3, text
        outcome = "llm"
    else:
        assert answer.mode == UNSUPPORTED
        assert any("not supported by its sources" in n for n in answer.notices)
        assert answer.text == extractive_text(desk, question)
        outcome = "fell back (unsupported)"
    reply_sentences = len([s for s in re.split(r"(?<=[.!?])\s+", reply.strip()) if s])
    record_property("outcome", outcome)
    record_property("kept_sentences", len(kept))
    record_property("reply_sentences", reply_sentences)
    record_property("seconds", round(seconds, 1))
    print(
        f"\n[{outcome}; kept {len(kept)} of ~{reply_sentences} sentences; {seconds:.1f}s] {question}\n"
        f"  model: {reply[:400]!r}\n  shown: {answer.text[:400]!r}"
    )


def test_a_question_the_archive_cannot_answer_never_reaches_the_model(archive):
    desk, _ = archive
    transport = recorded(desk)
    answer = desk.reading.ask("quantum entanglement cryptography")
    assert answer.abstained and answer.citations == []
    assert transport.exchanges == []


def test_timeout_falls_back_to_the_extractive_answer(archive):
    desk, served = archive
    fast = desk_with(archive, llm_timeout_seconds=0.05)
    try:
        transport = recorded(fast)
        question = QUESTIONS[0]
        started = time.perf_counter()
        answer = fast.reading.ask(question)
        seconds = time.perf_counter() - started
        assert len(transport.exchanges) == 1 and transport.exchanges[0]["error"] == "ReadTimeout"
        assert answer.mode == UNAVAILABLE
        assert any("did not answer (timed out)" in n and "extractive answer" in n for n in answer.notices)
        assert answer.text == extractive_text(desk, question)
        assert_citations_valid(desk, served, answer)
        assert seconds < 10, seconds  # the fallback did not wait for the model
    finally:
        fast.close()


def test_the_server_still_answers_after_a_client_timed_out(archive, server):
    """The abandoned request (non-streaming: the server finishes it anyway) must not wedge it."""
    desk, served = archive
    transport = recorded(desk)
    answer = desk.reading.ask(QUESTIONS[1])
    assert server.alive
    assert transport.exchanges[0]["status"] == 200
    assert answer.mode in ("llm", UNSUPPORTED)
    assert_citations_valid(desk, served, answer)


def _established(port: int) -> bool:
    """A TCP connection to 127.0.0.1:port is open (Linux /proc/net/tcp, state 01)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if local.endswith(f":{port:04X}") and state == "01":
            return True
    return False


def test_server_killed_mid_answer_falls_back_without_an_exception(archive, tmp_path):
    """A second server, killed (SIGKILL) while it works on the question: the extractive answer."""
    require_llama_server()
    desk, served = archive
    with LlamaServer(log_dir=tmp_path) as doomed:
        other = desk_with(archive, llm_url=doomed.url, llm_timeout_seconds=240.0)
        try:
            transport = recorded(other)
            question = QUESTIONS[2]
            outcome: dict = {}

            def ask():
                try:
                    outcome["answer"] = other.reading.ask(question)
                except BaseException as exc:  # the test fails on any exception
                    outcome["error"] = exc

            thread = threading.Thread(target=ask, daemon=True)
            thread.start()
            assert transport.sending.wait(60), "the ask never reached the model"
            deadline = time.monotonic() + 10
            while not _established(doomed.port) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _established(doomed.port), "no connection to the server"
            time.sleep(0.3)  # the request is read and the prompt is being evaluated
            assert thread.is_alive(), "the answer came back before the server could be killed"
            doomed.kill()
            killed = time.perf_counter()
            thread.join(60)
            assert not thread.is_alive()
            assert "error" not in outcome, outcome.get("error")
            assert time.perf_counter() - killed < 10  # noticed at once, not after the 240 s timeout
            answer = outcome["answer"]
            assert transport.exchanges[0]["status"] is None and transport.exchanges[0]["error"]
            assert answer.mode == UNAVAILABLE
            assert any("did not answer" in n for n in answer.notices)
            assert answer.text == extractive_text(desk, question)
            assert_citations_valid(desk, served, answer)
        finally:
            other.close()
        assert not doomed.alive
