"""Secrets (the Discord token, the LLM key) never reach logs or output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import support.answers as H
from click.testing import CliRunner
from support.cli import write_config

from index.cli.commands import cli
from index.logsafety import RedactingFilter, install_redaction, redact

DISCORD = "MTIzNDU2Nzg5.DISCORD-TOKEN-e4b1c9f0a7"
LLM_KEY = "sk-LLMKEY-secret-93bd22a1f0c4"
SECRETS = (DISCORD, LLM_KEY)


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD)
    monkeypatch.setenv("NEWSDESK_LLM_API_KEY", LLM_KEY)


@pytest.fixture(scope="module")
def llm():
    server = H.LLMServer()
    yield server
    server.close()


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret[:16] not in text


def test_redaction_masks_secrets_in_messages_args_and_tracebacks(caplog):
    caplog.set_level(logging.DEBUG)
    install_redaction()
    log = logging.getLogger("index.test_secrets")
    log.warning("token is %s", DISCORD)
    log.error("key in message " + LLM_KEY)
    try:
        raise RuntimeError(f"failed with Authorization: Bearer {LLM_KEY}")
    except RuntimeError:
        log.exception("request failed")
    assert caplog.text.count("[redacted]") >= 3
    assert_clean(caplog.text)
    assert redact(f"a {DISCORD} b") == "a [redacted] b"


def test_short_values_are_not_treated_as_secrets(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    assert redact("abc abc") == "abc abc"


def test_install_redaction_is_idempotent():
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        install_redaction()
        install_redaction()
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory, llm):
    answers = {"llm_url": llm.url, "llm_model": "test", "llm_timeout_seconds": 1.0}
    config = write_config(tmp_path_factory.mktemp("secrets"), answers=answers)
    return config, H.serve_feeds()


def invoke(config: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config), "-vv", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_commands_never_show_secrets(cli_setup, llm, caplog):
    caplog.set_level(logging.DEBUG)
    install_redaction()
    config, served = cli_setup
    outputs = []
    for args in (
        ["feeds", "add", served.gazette.url, "--name", H.GAZETTE],
        ["feeds", "add", served.courier.url],
        ["feeds", "add", served.gazette.server.base + "/missing.xml"],
        ["ingest", "--json"],
        ["stats", "--json"],
        ["stats"],
        ["doctor"],
        ["doctor", "--json"],
        ["feeds", "list", "--json"],
        ["latest", "--json"],
        ["search", "electric ferry", "--json"],
    ):
        result = invoke(config, *args)
        outputs.append(result.output)
    assert "hash-embedder-256" in outputs[4]
    # the LLM failure paths: timeout, garbage, an error body echoing the request headers
    llm.requests.clear()
    llm.replies[:] = [("sleep", 2.0, "late [1]"), ("raw", b"<html>oops</html>"), ("echo", 500), ("echo", 401)]
    for _ in range(4):
        result = invoke(config, "ask", "Who won the national chess championship?", "--json")
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        assert data["mode"] == "extractive (LLM unavailable)", data
        outputs.append(result.output)
    assert len(llm.requests) == 4
    # the key was really sent, so there was something to leak
    assert all(r["headers"].get("Authorization") == f"Bearer {LLM_KEY}" for r in llm.requests)
    assert "LLM answerer failed" in caplog.text and "HTTP 500" in caplog.text
    assert_clean(caplog.text, *outputs, *(r.getMessage() for r in caplog.records))


def test_status_and_config_errors_never_show_secrets(cli_setup, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    install_redaction()
    config, _ = cli_setup
    from index.config import load_config
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    desk = Newsdesk(load_config(config), embedder=HashEmbedder())
    try:
        assert_clean(
            json.dumps(desk.health.status(), default=str),
            json.dumps(desk.health.stats(), default=str),
            repr(desk.config),
        )
    finally:
        desk.close()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[answers]\nllm_api_key_env = 3\nllm_url = "{LLM_KEY}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bad), "stats"])
    assert result.exit_code == 2
    assert_clean(result.output, caplog.text)


# -- database passwords, in every form a URL or connection string carries them -------------
PASSWORD_FORMS = [
    ("postgresql://newsdesk:hunter2-secret@db.internal:5432/news", "postgresql://newsdesk:***@db.internal:5432/news"),
    ("postgresql://db.internal/news?password=hunter2-secret", "postgresql://db.internal/news?password=***"),
    (
        "postgresql://db.internal/news?sslmode=require&password=hunter2-secret&application_name=x",
        "postgresql://db.internal/news?sslmode=require&password=***&application_name=x",
    ),
    (
        "host=db.internal user=newsdesk password=hunter2-secret dbname=news",
        "host=db.internal user=newsdesk password=*** dbname=news",
    ),
    ("host=db.internal password='hunter2 secret' dbname=news", "host=db.internal password=*** dbname=news"),
    ("connection failed: PASSWORD = hunter2-secret", "connection failed: PASSWORD = ***"),
]


@pytest.mark.parametrize(("text", "shown"), PASSWORD_FORMS)
def test_every_password_form_is_masked_in_messages_and_archive_urls(text, shown):
    from index.archive.pg import redact as redact_archive_url

    assert redact(text) == shown
    assert redact_archive_url(text) == shown


def test_a_password_in_a_logged_url_is_masked(caplog):
    caplog.set_level(logging.DEBUG)
    install_redaction()
    logging.getLogger("index.test_secrets").error("cannot open postgresql://db/news?password=%s", "hunter2-secret")
    assert "hunter2" not in caplog.text and "password=***" in caplog.text


def test_the_configured_llm_key_variable_is_masked(monkeypatch, tmp_path, caplog):
    from dataclasses import replace

    from support.config import make_config

    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    monkeypatch.setenv("TEAM_LLM_TOKEN", "sk-team-token-5f1e0c2b9a")
    config = make_config(tmp_path / "data")
    config = replace(config, answers=replace(config.answers, llm_api_key_env="TEAM_LLM_TOKEN"))
    desk = Newsdesk(config, embedder=HashEmbedder())
    try:
        caplog.set_level(logging.DEBUG)
        install_redaction()
        logging.getLogger("index.test_secrets").warning("calling the model with key %s", "sk-team-token-5f1e0c2b9a")
        assert "sk-team-token" not in caplog.text and "[redacted]" in caplog.text
    finally:
        desk.close()
