"""scripts/check_lock.py: pyproject.toml and constraints.txt agree, or the disagreement is named."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
check_lock = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("check_lock", check_lock)
_spec.loader.exec_module(check_lock)

PYPROJECT = """\
[project]
name = "demo"
version = "0"
dependencies = ["torch>=2.1", "Sentence_Transformers>=3.0", "lxml>=5.2", "pywin32>=300; sys_platform == 'win32'"]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""

AGREEING = """\
#    make lock
lxml==6.1.3
    # via demo (pyproject.toml)
sentence-transformers==6.2.0
pytest==9.2.0
torch==2.13.0
iniconfig==2.3.0  # transitive pins are allowed
"""


def _check(tmp_path, pyproject, constraints):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "constraints.txt").write_text(constraints)
    return check_lock.check(tmp_path / "pyproject.toml", tmp_path / "constraints.txt")


def test_agreeing_files_have_no_problem(tmp_path):
    assert _check(tmp_path, PYPROJECT, AGREEING) == []
    assert check_lock.main([str(tmp_path / "pyproject.toml"), str(tmp_path / "constraints.txt")]) == 0


def test_a_dev_dependency_without_a_pin_is_named(tmp_path, capsys):
    problems = _check(tmp_path, PYPROJECT, AGREEING.replace("pytest==9.2.0\n", ""))
    assert len(problems) == 1
    assert "pytest" in problems[0] and "no pin" in problems[0] and "optional-dependencies.dev" in problems[0]
    assert check_lock.main([str(tmp_path / "pyproject.toml"), str(tmp_path / "constraints.txt")]) == 1
    assert "disagree" in capsys.readouterr().err


def test_a_pin_outside_the_specifier_is_named(tmp_path):
    problems = _check(tmp_path, PYPROJECT, AGREEING.replace("lxml==6.1.3", "lxml==4.9.4"))
    assert len(problems) == 1
    assert "lxml==4.9.4" in problems[0] and ">=5.2" in problems[0]


@pytest.mark.parametrize("line", ["nvidia-cublas==13.4.1.3", "triton==3.9.0"])
def test_a_cuda_piece_is_refused(tmp_path, line):
    problems = _check(tmp_path, PYPROJECT, AGREEING + line + "\n")
    assert len(problems) == 1 and "CUDA" in problems[0]


@pytest.mark.parametrize("line", ["numpy>=1.26", "numpy", "--index-url x", "numpy==2.*"])
def test_a_line_that_is_not_a_pin_is_refused(tmp_path, line):
    problems = _check(tmp_path, PYPROJECT, AGREEING + line + "\n")
    assert len(problems) == 1 and "not a plain" in problems[0]


def test_the_local_build_label_still_satisfies_the_specifier(tmp_path):
    assert _check(tmp_path, PYPROJECT, AGREEING.replace("torch==2.13.0", "torch==2.13.0+cpu")) == []


def test_the_repository_lock_agrees_with_its_pyproject():
    assert check_lock.check(ROOT / "pyproject.toml", ROOT / "constraints.txt") == []
