"""index.config: defaults, the example file, errors that name key and file, env overrides, CLI exit 2."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.cli.commands import cli
from index.config import Config, ConfigError, load_config
from index.errors import NewsdeskError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("NEWSDESK_DATA_DIR", "NEWSDESK_ALLOW_PRIVATE_NETWORKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./config.toml here


def write(tmp_path: Path, text: str, name: str = "newsdesk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sections(config: Config) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(Config) if f.name != "source"}


def test_defaults_without_a_file():
    config = load_config()
    assert config.source == "(defaults)"
    assert sections(config) == sections(Config())
    assert config.feeds.allow_private_networks is False
    assert config.embedding.model == "all-MiniLM-L6-v2"
    assert config.archive_path == Path("./newsdesk-data") / "archive.db"


def test_default_path_is_read_when_present(tmp_path):
    write(tmp_path, '[data]\ndir = "elsewhere"\n', "config.toml")
    config = load_config()
    assert config.data.dir == "elsewhere"
    assert config.source == "config.toml"


def test_example_file_loads_and_documents_the_defaults():
    if not EXAMPLE.exists():
        pytest.skip("config.example.toml is not written yet")
    config = load_config(EXAMPLE)
    assert config.source == str(EXAMPLE)
    # the example says "the values below are the defaults": hold it to that
    assert sections(config) == sections(Config())


def test_values_are_read_and_numbers_widened(tmp_path):
    path = write(
        tmp_path,
        """
[data]
dir = "/srv/news"
[feeds]
timeout_seconds = 5
workers = 3
fetch_full_text = "never"
[answers]
llm_url = "http://127.0.0.1:1/v1"
[discord]
guilds = [1, 2]
poll = false
""",
    )
    config = load_config(path)
    assert config.data.dir == "/srv/news"
    assert config.feeds.timeout_seconds == 5.0 and isinstance(config.feeds.timeout_seconds, float)
    assert config.feeds.workers == 3
    assert config.feeds.fetch_full_text == "never"
    assert config.answers.llm_url == "http://127.0.0.1:1/v1"
    assert config.discord.guilds == [1, 2]
    assert config.discord.poll is False
    # untouched keys keep their defaults
    assert config.feeds.retries == Config().feeds.retries


@pytest.mark.parametrize(
    "text, key",
    [
        ("[feeds]\nbogus = 1\n", "feeds.bogus"),
        ('[feeds]\nworkers = "eight"\n', "feeds.workers"),
        ("[feeds]\nworkers = true\n", "feeds.workers"),
        ('[feeds]\ntimeout_seconds = "20"\n', "feeds.timeout_seconds"),
        ('[feeds]\nallow_private_networks = "yes"\n', "feeds.allow_private_networks"),
        ("[data]\ndir = 3\n", "data.dir"),
        ('[discord]\nguilds = [1, "two"]\n', "discord.guilds"),
        ("[discord]\nowners = 5\n", "discord.owners"),
        ('[feeds]\nfetch_full_text = "sometimes"\n', "feeds.fetch_full_text"),
        ("[feeds]\nworkers = 0\n", "feeds.workers"),
        ("[embedding]\npassage_tokens = 10\n", "embedding.passage_tokens"),
        ('[index]\nchroma_url = "ftp://example.org"\n', "index.chroma_url"),
        ("[feeds]\nretries = -1\n", "feeds.retries"),
        ("[feeds]\ntimeout_seconds = -1.5\n", "feeds.timeout_seconds"),
        ("[feeds]\npoll_interval_minutes = 0\n", "feeds.poll_interval_minutes"),
        ("[answers]\nllm_timeout_seconds = 0\n", "answers.llm_timeout_seconds"),
        ("[answers]\nmax_sentences = 0\n", "answers.max_sentences"),
        ("[retrieval]\ncandidates = 0\n", "retrieval.candidates"),
        ("[retrieval]\nquery_cache_size = -1\n", "retrieval.query_cache_size"),
        ("[discord]\nask_cooldown_seconds = -3\n", "discord.ask_cooldown_seconds"),
        ("[nosuchsection]\nx = 1\n", "nosuchsection"),
        ("feeds = 3\n", "feeds"),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert key in message
    assert str(path) in message
    assert "\n" not in message


def test_bad_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[feeds\nworkers = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "TOML" in message
    assert "\n" not in message


def test_zero_is_allowed_where_it_means_off(tmp_path):
    path = write(
        tmp_path,
        "[feeds]\nretries = 0\nmax_redirects = 0\nper_host_delay_seconds = 0\n"
        "[retrieval]\nrecent_days = 0\nkeyword_weight = 0\n[discord]\nshards = 0\n",
    )
    config = load_config(path)
    assert config.feeds.retries == 0 and config.retrieval.recent_days == 0.0


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[data]\ndir = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)


def test_missing_named_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(missing) in str(info.value) and "not found" in str(info.value)
    assert isinstance(info.value, NewsdeskError)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[data]\ndir = "from-file"\n[feeds]\nallow_private_networks = true\n')
    assert load_config(path).data.dir == "from-file"
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "0")
    config = load_config(path)
    assert config.data.dir == str(tmp_path / "from-env")
    assert config.archive_path == tmp_path / "from-env" / "archive.db"
    assert config.feeds.allow_private_networks is False

    path2 = write(tmp_path, "[feeds]\nallow_private_networks = false\n", "other.toml")
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", value)
        assert load_config(path2).feeds.allow_private_networks is True
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "")  # empty: the file decides
    assert load_config(path2).feeds.allow_private_networks is False


def test_environment_overrides_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "true")
    config = load_config()
    assert config.data_dir == tmp_path / "d"
    assert config.feeds.allow_private_networks is True


@pytest.mark.parametrize(
    "text, key",
    [
        ("[feeds]\nbogus = 1\n", "feeds.bogus"),
        ('[feeds]\nworkers = "eight"\n', "feeds.workers"),
        ("[feeds\n", None),
    ],
)
def test_cli_prints_one_error_line_and_exits_2(tmp_path, text, key):
    path = write(tmp_path, text)
    result = CliRunner().invoke(cli, ["--config", str(path), "stats", "--json"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0]
    if key:
        assert key in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_cli_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "absent.toml"), "feeds", "list", "--json"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'absent.toml'}: config file not found"]


def test_embedding_backend_is_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[embedding]\nbackend = "cuda"\n')
    with pytest.raises(ConfigError, match="embedding.backend"):
        load_config(path)
    path.write_text('[embedding]\nbackend = "torch"\n')
    assert load_config(path).embedding.backend == "torch"
    assert load_config(None).embedding.backend == "auto"
