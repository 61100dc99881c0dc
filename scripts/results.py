"""Shared by the result scripts: write results/<name>.md (what README.md copies) and results/<name>.json."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"


def commit() -> str:
    """The checkout's commit (with +dirty for uncommitted changes), or 'unknown' outside git."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
    )
    return (head.stdout.strip() or "unknown") + ("+dirty" if dirty.stdout.strip() else "")


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(str, r)) + " |" for r in rows),
    ]


def run_commits(runs: list[Path]) -> list[str]:
    """The commits that trained the given run folders (from their record.json), shortened."""
    found = set()
    for run in runs:
        record = json.loads((run / "record.json").read_text()) if (run / "record.json").is_file() else {}
        full = str(record.get("git_commit") or "")
        if full:
            found.add(full[:7] + ("+dirty" if full.endswith("+dirty") else ""))
    return sorted(found)


def write_result(
    name: str,
    header: list[str],
    rows: list[list],
    raw: dict,
    command: str,
    setting: str,
    notes: list[str] = (),
    runs: list[Path] = (),
) -> Path:
    """Write the table (with how it was made) to results/<name>.md and the numbers to results/<name>.json.

    `runs` are the run folders behind the table: their records name the commits that trained them.
    """
    RESULTS.mkdir(exist_ok=True)
    made = f"{datetime.date.today()}, commit {', '.join(run_commits(runs)) or commit()}"
    lines = [
        *markdown_table(header, rows),
        "",
        *notes,
        *([""] if notes else []),
        f"Written by `{command}` ({setting}; {made}).",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    record = {"command": command, "setting": setting, "made": made, "results": raw}
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print("\n".join(lines))
    return RESULTS / f"{name}.md"
