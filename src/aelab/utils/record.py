"""A record of what produced a run: code version, package versions, seed and data fingerprint."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path

import numpy as np

PACKAGES = ("aelab", "torch", "torchvision", "pytorch-lightning", "hydra-core", "torchmetrics")


def git_commit(directory: str | Path) -> str | None:
    """Return the git commit of `directory` (with a `+dirty` suffix), or None outside a repository."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages a run depends on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def fingerprint(*arrays) -> str:
    """Return a short SHA-256 of the bytes of the given arrays or tensors."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        values = array.numpy() if hasattr(array, "numpy") else np.asarray(array)
        digest.update(str(values.shape).encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()[:16]


def run_record(seed: int | None, data_fingerprint: str | None, cwd: str | Path) -> dict:
    """Return the provenance record stored beside a run and inside its checkpoints."""
    return {
        "git_commit": git_commit(cwd),
        "versions": package_versions(),
        "seed": seed,
        "data_fingerprint": data_fingerprint,
        "host": platform.node(),
    }
