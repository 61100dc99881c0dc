"""Shared by the example scripts: run an `aelab-train -m` sweep through the real command line, read its jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from aelab.collect import Jobs, load_jobs

QUIET = ["callbacks=none", "trainer.enable_progress_bar=false", "print_config=false"]


def run_sweep(overrides: list[str], folder: Path) -> Jobs:
    """Run `aelab-train -m <overrides>` with its jobs under `folder` (output in sweep.log); return its jobs."""
    train = Path(sys.executable).parent / "aelab-train"
    command = [str(train), "-m", *QUIET, *overrides, f"hydra.sweep.dir={folder}"]
    folder.mkdir(parents=True, exist_ok=True)
    print("$", " ".join(command), file=sys.stderr)
    env = {"OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", **os.environ}
    start = time.perf_counter()
    with open(folder / "sweep.log", "w") as log:
        result = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"The sweep failed (exit {result.returncode}): see {folder / 'sweep.log'}.")
    print(f"  finished in {time.perf_counter() - start:.0f} s; output in {folder / 'sweep.log'}", file=sys.stderr)
    return load_jobs([folder])
