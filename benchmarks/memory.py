"""Peak memory (maximum resident set size) of the default `aelab-train` run against importing torch and Lightning.

The run is the default one (`mnist_5k`, MLP autoencoder, CSV logger, its callbacks, the test of the best
checkpoint) for two epochs, one thread, into a temporary folder; the floor is a bare `python -c "import torch,
pytorch_lightning"`, and `import torch` alone shows Lightning's share of it. Each is a fresh process whose peak
is read from the kernel when it is reaped (`wait4`'s ru_maxrss, which covers the process and any children it
waited for). The contenders alternate; medians, in MiB. Prints JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from common import REPO, child_env, emit, median, python_command, train_command


def peak_mib(command: list[str]) -> float:
    """Run `command`; return its peak resident memory in MiB."""
    process = subprocess.Popen(command, env=child_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not the maximum over all children
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    """Measure the peaks and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    peaks: dict[str, list[float]] = {"import_torch": [], "import_torch_lightning": [], "aelab_train": []}
    with tempfile.TemporaryDirectory() as workdir:
        for round_ in range(1 if args.quick else args.rounds):
            peaks["import_torch"].append(peak_mib(python_command("import torch")))
            peaks["import_torch_lightning"].append(peak_mib(python_command("import torch, pytorch_lightning")))
            run = train_command(Path(workdir) / f"run{round_}", "trainer.max_epochs=2")
            peaks["aelab_train"].append(peak_mib(run))
    floor, run = median(peaks["import_torch_lightning"], 1), median(peaks["aelab_train"], 1)
    emit(
        {
            "benchmark": "memory",
            "threads": 1,
            "run": "aelab-train (defaults) trainer.max_epochs=2 logger=csv",
            "peak_mib": {
                "import_torch": median(peaks["import_torch"], 1),
                "import_torch_lightning": floor,
                "aelab_train": run,
            },
            "peak_mib_all": {name: [round(v, 1) for v in values] for name, values in peaks.items()},
            "above_floor_mib": round(run - floor, 1),
            "ratio_to_floor": round(run / floor, 2),
        }
    )


if __name__ == "__main__":
    main()
