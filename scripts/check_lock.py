"""Does constraints.txt still hold what pyproject.toml declares?

    python scripts/check_lock.py [pyproject.toml] [constraints.txt]

Fails (exit 1) when a dependency declared in [project].dependencies or an optional extra (dev)
has no pin in constraints.txt, when its pinned version is outside the declared specifier, when a
line of constraints.txt is not a plain `name==version` pin, or when a CUDA piece (nvidia-*,
cuda-*, triton) slipped in: torch is the CPU build. Transitive completeness is pip's job
(`pip check` after the install); this only compares the two files. Stdlib and packaging only.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

CUDA_PREFIXES = ("nvidia-", "cuda-")
CUDA_NAMES = {"triton"}


def read_pins(path: Path) -> tuple[dict[str, Version], list[str]]:
    """The `name==version` pins of a constraints file, by canonical name, and what was wrong in it."""
    pins: dict[str, Version] = {}
    problems: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        try:
            req = Requirement(line)
            (spec,) = req.specifier
            if spec.operator != "==" or "*" in spec.version:
                raise ValueError
            version = Version(spec.version)
        except (InvalidRequirement, InvalidVersion, ValueError):
            problems.append(f"{where}: not a plain `name==version` pin: {line!r}")
            continue
        name = canonicalize_name(req.name)
        if name in pins:
            problems.append(f"{where}: {name} pinned twice")
        pins[name] = version
    return pins, problems


def declared(pyproject: Path) -> list[tuple[str, Requirement]]:
    """Every requirement of [project].dependencies and of each optional extra, with where it came from."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = [("dependencies", Requirement(r)) for r in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        found += [(f"optional-dependencies.{extra}", Requirement(r)) for r in reqs]
    return found


def check(pyproject: Path, constraints: Path) -> list[str]:
    """What disagrees between the two files; empty when they agree."""
    pins, problems = read_pins(constraints)
    for name in sorted(pins):
        if name.startswith(CUDA_PREFIXES) or name in CUDA_NAMES:
            problems.append(f"{constraints.name}: {name}=={pins[name]} is a CUDA piece (torch is the CPU build)")
    for origin, req in declared(pyproject):
        extra = origin.rpartition(".")[2] if origin != "dependencies" else ""
        if req.marker is not None and not req.marker.evaluate({**default_environment(), "extra": extra}):
            continue  # not for this platform or Python
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} ({origin}: {str(req)!r}) has no pin in {constraints.name}")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}=={pins[name]} in {constraints.name} is outside {origin}: {str(req)!r}")
    return problems


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    pyproject = Path(argv[0]) if argv else root / "pyproject.toml"
    constraints = Path(argv[1]) if len(argv) > 1 else root / "constraints.txt"
    if not constraints.exists():
        print(f"check-lock: {constraints} is missing; run `make lock`", file=sys.stderr)
        return 1
    problems = check(pyproject, constraints)
    if problems:
        print(f"check-lock: {pyproject.name} and {constraints.name} disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("run `make lock` to regenerate constraints.txt, and commit it with pyproject.toml", file=sys.stderr)
        return 1
    print(
        f"check-lock: {constraints.name} pins every dependency {pyproject.name} declares ({len(declared(pyproject))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
