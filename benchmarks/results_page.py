"""Write one benchmark's section of benchmarks/RESULTS.md, leaving the other sections as they are."""

from __future__ import annotations

from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, text: str, path: Path = RESULTS_PATH) -> None:
    """Replace the section that starts with ``heading`` (a ``## …`` line) by ``text``, or append it."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if heading in current:
        before, rest = current.split(heading, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        current = before.rstrip("\n") + "\n\n" + text + after
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current.rstrip("\n") + "\n", encoding="utf-8")
