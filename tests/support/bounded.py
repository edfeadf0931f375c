"""Run a piece of Python in a child process with a time budget, so code that runs away (a
backtracking regex holds the interpreter lock; no thread or signal can stop it) fails a test
instead of hanging the run. The child imports this checkout's ``index``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bounded(code: str, budget: float = 30.0) -> str:
    """The child's stdout; the test fails when the child runs past ``budget`` seconds or fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=budget
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {budget:g} s")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()
