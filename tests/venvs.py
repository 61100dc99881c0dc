"""Fresh virtual environments that reuse this environment's installed packages (nothing is downloaded)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"])


def is_package(entry: Path, package: str) -> bool:
    """Return whether a site-packages entry belongs to `package` (its module, metadata or editable hook)."""
    name = entry.name.lower()
    return name == package or name.startswith((f"{package}-", f"__editable__.{package}-", f"__editable___{package}_"))


def fresh_venv(folder: Path, without: str = "aelab") -> Path:
    """Create a venv in `folder` whose site-packages links every installed package but `without`; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for entry in SITE.iterdir():
        if not is_package(entry, without) and not (target / entry.name).exists():
            (target / entry.name).symlink_to(entry)
    return python


def run(
    python: Path, *args: str, cwd: Path, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run a command of the venv of `python` (a console script name, or `python` itself) in `cwd`."""
    command, *rest = args
    executable = python if command == "python" else python.parent / command
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    environment.pop("PYTHONPATH", None)  # nothing from the checkout leaks into the venv
    environment.update(env or {})
    return subprocess.run(
        [str(executable), *rest], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def pip_install(python: Path, *targets: str, cwd: Path) -> subprocess.CompletedProcess:
    """Install `targets` into the venv from what is already there: no dependencies, no index, no build isolation."""
    return run(
        python,
        "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        *targets,
        cwd=cwd,
        env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
