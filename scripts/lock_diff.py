"""What changed between two constraints files: added, removed, upgraded and downgraded names.

    python scripts/lock_diff.py OLD NEW

A missing OLD counts as empty (the first lock). Stdlib and packaging only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from check_lock import read_pins


def lock_diff(old: dict, new: dict) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before is None:
            lines.append(f"  added      {name}=={after}")
        elif after is None:
            lines.append(f"  removed    {name}=={before}")
        elif after > before:
            lines.append(f"  upgraded   {name} {before} -> {after}")
        elif after < before:
            lines.append(f"  downgraded {name} {before} -> {after}")
    return lines


def main(argv: list[str]) -> int:
    old_path, new_path = Path(argv[0]), Path(argv[1])
    old = read_pins(old_path)[0] if old_path.exists() else {}
    new = read_pins(new_path)[0]
    lines = lock_diff(old, new)
    print(f"lock: {len(new)} pins, " + (f"{len(lines)} changed:" if lines else "nothing changed"))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
