"""Installing aelab as a user does: a wheel and a git URL into fresh environments, and a fork renamed and tested."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import CONFIGS, REPO
from venvs import fresh_venv, pip_install, run

pytestmark = pytest.mark.slow
FAST = ["trainer.max_epochs=1", "trainer.enable_progress_bar=false", "print_config=false"]


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd` and return its output."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A git repository holding the checkout's tracked files as they are now: what a clean clone of it would hold.

    Files git does not track yet are left out (a clone would not have them); files added to the index are in.
    """
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = git("ls-files", "--cached", "-z", cwd=REPO).split("\0")
    copy = tmp_path_factory.mktemp("tree") / "aelab"
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    git("init", "-q", cwd=copy)
    git("add", "-A", cwd=copy)
    git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "snapshot", cwd=copy)
    return copy


def shipped_configs() -> set[str]:
    """The config files a wheel must carry (the untracked per-user local/default.yaml is not one)."""
    return {f"aelab/configs/{p.relative_to(CONFIGS)}" for p in CONFIGS.rglob("*.yaml")} - {
        "aelab/configs/local/default.yaml"
    }


def clone(tree: Path, folder: Path) -> Path:
    """A fresh clone of the snapshot, as a user (or a fork) starts from."""
    git("clone", "-q", str(tree), str(folder), cwd=tree)
    return folder


def test_the_wheel_carries_every_config_and_trains_and_evaluates_from_another_folder(tree, tmp_path):
    source = clone(tree, tmp_path / "aelab")
    wheel_options = ["--quiet", "--no-deps", "--no-build-isolation", "-w", "wheels"]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *wheel_options, str(source)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("aelab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert shipped_configs() - names == set(), "configs missing from the wheel"

    python = fresh_venv(tmp_path / "venv")
    installed = pip_install(python, str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(python, "python", "-c", "import aelab; print(aelab.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr  # not the checkout's
    trained = run(python, "aelab-train", "data=digits", *FAST, "hydra.run.dir=run", cwd=elsewhere)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert json.loads((elsewhere / "run" / "metrics.json").read_text())["test/mse"] < 0.2
    evaluated = run(
        python,
        "aelab-eval",
        "ckpt_path=run/checkpoints/last.ckpt",
        "eval.analyses=[reconstruction]",
        "trainer.enable_progress_bar=false",
        "hydra.run.dir=eval",
        cwd=elsewhere,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    analysis = json.loads((elsewhere / "eval" / "metrics.json").read_text())
    assert analysis["recon/mse"] == pytest.approx(analysis["test/mse"], rel=1e-4)  # the analysis saw the test split
    for command in ("aelab-detect", "aelab-collect"):
        assert run(python, command, "--help", cwd=elsewhere).returncode == 0, command


def test_a_git_url_installs_a_working_aelab(tree, tmp_path):
    python = fresh_venv(tmp_path / "venv")
    installed = pip_install(python, f"git+file://{tree}", cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    helped = run(python, "aelab-train", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "model: aae, ae," in helped.stdout and "vq_vae" in helped.stdout, helped.stderr


def test_a_renamed_fork_passes_its_own_tests(tree, tmp_path):
    fork = clone(tree, tmp_path / "mylab")
    renamed = subprocess.run(
        [sys.executable, str(fork / "scripts" / "rename.py"), "mylab"], capture_output=True, text=True
    )
    assert renamed.returncode == 0, renamed.stderr
    assert not (fork / "src" / "aelab").exists() and (fork / "src" / "mylab" / "configs" / "train.yaml").is_file()
    grep = ["grep", "-ril", "--exclude-dir=.git", "aelab", "."]
    leftovers = subprocess.run(grep, cwd=fork, capture_output=True, text=True).stdout.split()
    assert leftovers == ["./scripts/rename.py"], leftovers  # the script keeps the old name, to rename again later
    assert "mylab-train" in (fork / "pyproject.toml").read_text()

    python = fresh_venv(tmp_path / "venv", without="aelab")
    installed = pip_install(python, str(fork), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    tests = run(python, "python", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_cli.py", cwd=fork)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
