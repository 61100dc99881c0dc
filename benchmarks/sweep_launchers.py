"""Wall time of one 4-job sweep on Hydra's basic launcher (jobs one after another) and on joblib (2 workers).

Both run the same `aelab-train -m ... seed=1,2,3,4` on CPU with one thread per job, through the real
command line, so the times include Python start-up, imports and joblib's worker start. Prints JSON.

    python benchmarks/sweep_launchers.py [--epochs 2] [--data mnist_5k] [--repeats 3]

With --repeats, the launchers alternate and the median is reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


def sweep(launcher: list[str], settings: list[str], workdir: Path) -> float:
    """Run one sweep; return its wall time in seconds."""
    train = Path(sys.executable).parent / "aelab-train"
    command = [str(train), "-m", *settings, f"paths.log_dir={workdir}", *launcher]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"The sweep failed ({' '.join(command)}):\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    """Time the sweep on each launcher and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default="mnist_5k")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    settings = [
        f"data={args.data}",
        "trainer=cpu",
        f"trainer.max_epochs={args.epochs}",
        "callbacks=none",
        "trainer.enable_progress_bar=false",
        "print_config=false",
        "seed=1,2,3,4",
    ]
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name, extra in LAUNCHERS.items():
                times[name].append(sweep(extra, settings, Path(tmp) / f"{name}{repeat}"))
                loads.append(os.getloadavg()[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        json.dumps(
            {
                "benchmark": "sweep_launchers",
                "jobs": 4,
                "joblib_workers": 2,
                "threads_per_job": 1,
                "cpus": os.cpu_count(),
                "load_average_1min": [round(load, 2) for load in loads],
                "settings": settings,
                "wall_s_median": {name: round(t, 2) for name, t in median.items()},
                "wall_s_all": {name: [round(t, 2) for t in values] for name, values in times.items()},
                "speedup_joblib": round(median["basic"] / median["joblib"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
