"""A real Chroma server (`chroma run`) on a free 127.0.0.1 port, for the tests of client-server
Chroma (tests/test_multimachine.py and tests/index/vectors/test_chroma_server.py). Without the
``chroma`` command, or when the server does not answer its heartbeat within a minute,
:func:`start_chroma` returns the reason as a string and the tests using it skip."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .http import free_port


class ChromaServer:
    """One `chroma run --path DIR` on 127.0.0.1; ``url`` for ``[index] chroma_url``."""

    def __init__(self, proc: subprocess.Popen, url: str, log):
        self.proc, self.url, self._log = proc, url, log

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def start_chroma(path: Path) -> ChromaServer | str:
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "")
    if not chroma.is_file():
        return "the chroma command is not installed"
    port = free_port()
    log = open(path / "server.log", "w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path / "db"), "--port", str(port), "--host", "127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = ChromaServer(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            server.stop()
            return f"chroma run exited with {proc.returncode}: {(path / 'server.log').read_text()[-500:]}"
        try:
            if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            return "chroma run did not answer its heartbeat within 60 s"
        time.sleep(0.2)
