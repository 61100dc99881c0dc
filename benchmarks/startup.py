"""Start-up time of `aelab-train`: `--help`, and launch to the first optimizer step of the default run.

Each contender is a fresh process from the real command line, one thread: `aelab-train --help` (wall time to
exit); a bare `python -c "import pytorch_lightning"` (the floor: Lightning's import alone); and the default
run (`mnist_5k`, MLP autoencoder, one epoch, CSV logger, into a temporary folder). The run carries one extra
callback, added by a Hydra override, that prints the wall clock to stderr when the first optimizer step ends;
the floor prints it once the import is done. Launch-to-marker is that clock minus the one read just before the
launch, so neither includes the interpreter's exit (about a second once torch is loaded), which is timed
apart. The contenders alternate over several rounds after one uncounted warm-up round (page cache, the data
cache); medians are reported. Prints JSON.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, child_env, emit, median, python_command, train_command

MARKER = "aelab-benchmark-marker"


def first_step_marker():
    """A callback printing MARKER and the wall clock once the first optimizer step is done (runs in the child)."""
    import pytorch_lightning as pl

    class FirstStepMarker(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if trainer.global_step == 1:
                print(MARKER, time.time(), file=sys.stderr, flush=True)

    return FirstStepMarker()


def wall_time(command: list[str]) -> float:
    """Run `command` to its end; return seconds."""
    start = time.perf_counter()
    subprocess.run(command, env=child_env(), cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def to_marker(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `command`; return (seconds from launch to its MARKER line, seconds from launch to its exit)."""
    launch = time.time()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    process.wait()
    ended = time.time()
    marks = [line.split()[1] for line in stderr.splitlines() if line.startswith(MARKER)]
    if process.returncode != 0 or not marks:
        raise SystemExit(f"{' '.join(command)} failed or printed no marker:\n{stderr[-3000:]}")
    return float(marks[0]) - launch, ended - launch


def default_run(run_dir: Path) -> tuple[float, float]:
    """Run the default training for one epoch; return seconds to the first step and to the exit."""
    marker = f"+callbacks.first_step._target_={Path(__file__).stem}.first_step_marker"
    # The child imports this module for the marker callback.
    env = child_env(PYTHONPATH=str(Path(__file__).resolve().parent))
    return to_marker(train_command(run_dir, "trainer.max_epochs=1", marker), env)


def lightning_import() -> tuple[float, float]:
    """Import Lightning in a bare interpreter; return seconds to the import done and to the exit."""
    code = f"import sys, time, pytorch_lightning; print('{MARKER}', time.time(), file=sys.stderr)"
    return to_marker(python_command(code), child_env())


def measure(rounds: int, workdir: Path) -> dict[str, list[float]]:
    """Alternate the contenders for `rounds` rounds after a warm-up one; return their times."""
    names = ("help", "import_lightning", "import_lightning_to_exit", "first_step", "run_to_exit")
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds + 1):
        help_s = wall_time([*train_command(workdir / "help"), "--help"])
        imported = lightning_import()
        run = default_run(workdir / f"run{round_}")
        if round_ > 0:
            for name, value in zip(names, (help_s, *imported, *run)):
                times[name].append(value)
    return times


def main() -> None:
    """Time the contenders and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--quick", action="store_true", help="two rounds: a smoke run, not a measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        times = measure(2 if args.quick else args.rounds, Path(workdir))
    seconds = {name: median(values, 2) for name, values in times.items()}
    emit(
        {
            "benchmark": "startup",
            "threads": 1,
            "rounds": len(times["help"]),
            "run": "aelab-train (defaults) trainer.max_epochs=1 logger=csv",
            "seconds_median": seconds,
            "seconds_all": {name: [round(v, 2) for v in values] for name, values in times.items()},
            "lightning_import_share_of_first_step": round(seconds["import_lightning"] / seconds["first_step"], 3),
            "first_step_after_lightning_import_s": round(seconds["first_step"] - seconds["import_lightning"], 2),
        }
    )


if __name__ == "__main__":
    main()
