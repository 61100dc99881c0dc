"""A five-seed study as one command: `aelab-train seeds=[0,1,2,3,4]`, then `aelab-collect` on its folder.

    python scripts/replicas_study.py [--seeds 0 1 2 3 4] [--out logs/replicas_study] [-- more overrides]

Writes results/replicas_study.md (the aelab-collect table, mean ± std over the replicas), which README.md
copies (`python scripts/readme_sync.py`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from results import RESULTS, commit, run_commits

BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> None:
    """Train the replicas, collect them, and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=Path("logs/replicas_study"))
    parser.add_argument("overrides", nargs="*", help="more aelab-train overrides, after --")
    args = parser.parse_args(argv)
    seeds = "[" + ",".join(map(str, args.seeds)) + "]"
    train = [
        str(BIN / "aelab-train"),
        "data=digits",
        f"seeds={seeds}",
        *args.overrides,
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={args.out / 'run'}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(train, check=True, env=env)
    seconds = time.perf_counter() - start
    collect = [
        str(BIN / "aelab-collect"),
        str(args.out / "run"),
        "--out",
        str(args.out / "table"),
        "--metrics",
        "val/loss_best,test/loss,test/mse,test/psnr",
    ]
    subprocess.run(collect, check=True, env=env)
    table = (args.out / "table" / "results.md").read_text().strip()
    shown = " ".join(["aelab-train", *train[1:-2]])
    commits = ", ".join(run_commits(sorted(r.parent for r in (args.out / "run").rglob("record.json")))) or commit()
    note = (
        f"Written by `python scripts/replicas_study.py` (`{shown}` in {seconds:.0f} s on one CPU thread, "
        f"start-up included, then `aelab-collect`; {time.strftime('%Y-%m-%d')}, commit {commits})."
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replicas_study.md").write_text(f"{table}\n\n{note}\n")
    print(table, note, sep="\n\n")


if __name__ == "__main__":
    main()
