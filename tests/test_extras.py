"""A feature whose optional extra is not installed ends in one sentence that names the extra."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO

from aelab.utils.extras import missing_sentence


def run_without(modules: list[str], code: str, *args: str, cwd) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter where `modules` cannot be imported (as if never installed)."""
    hide = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run(
        [sys.executable, "-c", hide + code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "PATH": "/usr/bin:/bin"},
    )


TRAIN = "from aelab.train import main\nmain()"
CASES = {
    "optuna missing": (["optuna", "hydra_plugins.hydra_optuna_sweeper"], ["-m", "hparams_search=optuna"], "optuna"),
    "optuna missing beside its plugin": (["optuna"], ["-m", "hparams_search=optuna"], "optuna"),
    "submitit missing": (
        ["submitit", "hydra_plugins.hydra_submitit_launcher"],
        ["-m", "hydra/launcher=slurm"],
        "slurm",
    ),
    "submitit_local missing": (
        ["submitit", "hydra_plugins.hydra_submitit_launcher"],
        ["-m", "hydra/launcher=submitit_local"],
        "slurm",
    ),
}


@pytest.mark.parametrize(("hidden", "args", "extra"), CASES.values(), ids=CASES)
def test_a_missing_extra_is_one_sentence_naming_it(tmp_path, hidden, args, extra):
    result = run_without(hidden, TRAIN, *args, "data=digits", cwd=tmp_path)
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    assert result.returncode == 2 and lines == [f"Error: {missing_sentence(extra)}"], lines
    assert "Traceback" not in result.stderr and not (tmp_path / "logs").exists()


def test_the_pythae_benchmark_says_which_extra_it_needs(tmp_path):
    code = f"import runpy\nrunpy.run_path({str(REPO / 'benchmarks' / 'pythae_vae.py')!r}, run_name='__main__')"
    result = run_without(["pythae"], code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["skipped"] == missing_sentence("bench")
