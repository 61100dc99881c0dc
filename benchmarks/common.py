"""Helpers the benchmarks share: the `aelab-train` command line, a child's environment, printing the JSON."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmarked child: one thread, no W&B, plus `extra`."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", **extra}


def train_command(run_dir: Path, *overrides: str) -> list[str]:
    """The default `aelab-train` run, writing into `run_dir`, with `overrides`."""
    return [str(BIN / "aelab-train"), f"hydra.run.dir={run_dir}", "logger=csv", *overrides]


def python_command(code: str) -> list[str]:
    """This interpreter running `code`."""
    return [sys.executable, "-c", code]


def median(values: list[float], digits: int = 3) -> float:
    """The median, rounded."""
    return round(statistics.median(values), digits)


def emit(result: dict) -> None:
    """Print a benchmark's result as one JSON object."""
    print(json.dumps(result, indent=2))
