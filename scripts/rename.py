"""Rename the package of a fork: `aelab` becomes your project's name everywhere it stands.

    python scripts/rename.py mylab [--root .] [--dry-run]

Renames the package folder (src/aelab -> src/mylab) and replaces `aelab`, `Aelab` and `AELAB` in every text
file the repository tracks (code, configs, docs, the pyproject's name and console scripts, which become
`mylab-train`, `mylab-eval`, ...). The checkpoint key and the entry DDP ranks start change with it, so the
fork reads its own checkpoints, not aelab's. Running it again is safe: after merging later aelab changes
(`git fetch upstream && git merge upstream/main`), it renames whatever the merge brought in under the old name.
"""

from __future__ import annotations

import argparse
import keyword
import re
import shutil
import subprocess
import sys
from pathlib import Path

OLD = "aelab"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Outside a git repository: folders of the checkout that hold no project files.
SKIPPED = {".git", ".venv", "logs", "data", "build", ".pytest_cache", ".ruff_cache"}


def check_name(name: str) -> None:
    """Refuse a name that cannot be a Python package, in one sentence."""
    if not NAME.match(name) or keyword.iskeyword(name) or name == OLD:
        sys.exit(
            f"Error: {name!r} cannot name the package: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. mylab)."
        )


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks under `root` (outside a repository: every file but those of SKIPPED top folders)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        files = [root / name for name in listed.stdout.split("\0") if name]
    else:
        files = [p for p in root.rglob("*") if p.relative_to(root).parts[0] not in SKIPPED]
    this = Path(__file__).resolve()  # this script keeps the old name, so that it can rename again after a merge
    return [p for p in files if p.is_file() and "__pycache__" not in p.parts and p.resolve() != this]


def replace_names(text: str, name: str) -> str:
    """Replace the package name in its three spellings."""
    return text.replace(OLD, name).replace(OLD.capitalize(), name.capitalize()).replace(OLD.upper(), name.upper())


def move_package(root: Path, name: str, dry_run: bool) -> list[str]:
    """Move src/aelab to src/<name>, merging into it when both exist (after an upstream merge)."""
    old, new = root / "src" / OLD, root / "src" / name
    if not old.exists():
        return []
    moved = []
    for path in sorted(p for p in old.rglob("*") if p.is_file()):
        target = new / path.relative_to(old)
        moved.append(f"{path.relative_to(root)} -> {target.relative_to(root)}")
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
    if not dry_run:
        shutil.rmtree(old)
    return moved


def rename(root: Path, name: str, dry_run: bool = False) -> dict[str, int]:
    """Rename the package under `root`; return how many files were moved and rewritten."""
    check_name(name)
    rewritten = 0
    for path in tracked_files(root):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary files (pictures) keep their bytes
        renamed = replace_names(text, name)
        if renamed != text:
            rewritten += 1
            if not dry_run:
                path.write_text(renamed)
    moved = move_package(root, name, dry_run)
    return {"moved": len(moved), "rewritten": rewritten}


def main(argv: list[str] | None = None) -> None:
    """Rename the package of the repository this script is in (or --root)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the new package name, e.g. mylab")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    args = parser.parse_args(argv)
    counts = rename(args.root.resolve(), args.name, args.dry_run)
    verb = "would move" if args.dry_run else "moved"
    print(
        f"{verb} {counts['moved']} files to src/{args.name}, rewrote {counts['rewritten']} files; "
        f"reinstall with `pip install -e .` (or make install) and run {args.name}-train."
    )


if __name__ == "__main__":
    main()
