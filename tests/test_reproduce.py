"""scripts/reproduce.py: budgeted runs that resume, and REPRODUCTION.md written from the runs' kept records."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from formats import write_mnist

sys.path.insert(0, str(REPO / "scripts"))

import reproduce  # noqa: E402
from reproduction_table import write_table  # noqa: E402

SMALL = ["model.iwae_samples=2", "net.hidden_dims=[16]", "model.latent_dim=4"]


def fake_run(folder: Path, config: dict, metrics: dict, passes: int, budget: float | None = 60.0) -> None:
    """Write the files a finished session leaves in a job folder."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    session = {"budget_minutes": budget, "passes_after": passes, "train_minutes": budget or 1.0, "wall_minutes": 80.0}
    (folder / "sessions.json").write_text(json.dumps([session]))
    (folder / "curves").mkdir()
    rows = ["epoch,train/elbo,test_curve/elbo,test_curve/samples_seen"]
    rows += [f"{e},{-150 + e},{-155 + e},{60000 * (e + 1)}" for e in range(passes)]
    (folder / "curves" / "session_001.csv").write_text("\n".join(rows) + "\n")


def mnist_config(root: Path, **model) -> dict:
    data = {"_target_": "aelab.data.MNISTDataModule", "root": str(root), "val_fraction": 0.1, "binarize": "dynamic"}
    return {"data": data, "model": model, "trainer": {"max_epochs": 3280}}


def curve_epochs(path: Path) -> list[int]:
    """The passes a session's learning curve holds."""
    return pd.read_csv(path).dropna(subset=["test_curve/elbo"])["epoch"].astype(int).tolist()


@pytest.mark.slow
def test_a_budgeted_run_stops_after_its_minutes_and_the_same_command_resumes_it(tmp_path):
    write_mnist(tmp_path / "data" / "MNIST" / "raw", n_train=200, n_test=40, gz=True)
    doc = tmp_path / "REPRODUCTION.md"
    command = ["--only", "burda2016_vae_mnist", "--budget-minutes", "0.05", "--data-root", str(tmp_path / "data")]
    command += ["--out", str(tmp_path / "out"), "--doc", str(doc), "--", *SMALL]
    reproduce.main(command)
    reproduce.main(command)
    folder = tmp_path / "out" / "burda2016_vae_mnist" / "run"
    first, second = json.loads((folder / "sessions.json").read_text())
    assert 0 < first["passes_after"] == second["passes_before"] < second["passes_after"] < 3280
    assert not first["resumed"] and second["resumed"]
    assert 0.05 <= second["train_minutes"] < 0.5  # stopped at the end of the pass that spent the budget
    before, after = (curve_epochs(folder / "curves" / f"session_00{i}.csv") for i in (1, 2))
    assert len(set(after)) == len(after)  # no pass logged twice: a fresh start would log passes 0, 1, ... again
    assert min(set(after) - set(before)) == first["passes_after"] == len(before)
    restored = f"Restored all states from the checkpoint at {folder / 'checkpoints' / 'last.ckpt'}"
    assert (folder / "reproduce.log").read_text().count(restored) == 1  # the second session, not a fresh start
    text = doc.read_text()
    assert f"{second['passes_after']:,} of the paper's 3,280 passes" in text and "**budget** of 0.1 min" in text
    assert "k = 2 in the test bound" in text  # the k the run's config used, not the paper's 5,000


def test_rows_come_from_the_runs_and_smoke_runs_stay_out_of_the_main_table(tmp_path):
    write_mnist(tmp_path / "data" / "MNIST" / "raw", n_train=100, n_test=30)
    out = tmp_path / "out"
    root = tmp_path / "data"
    fake_run(out / "burda2016_vae_mnist" / "run", mnist_config(root, iwae_samples=5000), {"test/nll_iwae": 90.1}, 400)
    fake_run(
        out / "burda2016_iwae_k5_mnist" / "run", mnist_config(root, iwae_samples=5000), {"test/nll_iwae": 89.8}, 150
    )
    for nz, elbo in ((3, -130.0), (20, -101.0)):
        fake_run(
            out / "kingma2014_vae_mnist" / f"latent_dim_{nz}",
            mnist_config(root, latent_dim=nz),
            {"test/elbo": elbo},
            90,
        )
    ecg = {"_target_": "aelab.data.ECG5000DataModule", "test": "ECG5000_TEST_reconstructed.txt.gz"}
    metrics = {"test/auroc": 0.95, "test/auroc_pca": 0.99}
    fake_run(
        out / "malhotra2016_encdec_ad_ecg" / "run", {"data": ecg, "trainer": {"max_epochs": 150}}, metrics, 150, None
    )
    quick = {"data": {"_target_": "aelab.data.MNIST5kDataModule"}, "trainer": {"max_epochs": 3}}
    fake_run(out / "quick" / "vincent2010_dae_mnist" / "run", quick, {"finetune/error": 0.0875}, 3, None)
    text = write_table(out, tmp_path / "REPRODUCTION.md", tmp_path)
    main, smoke = text.split("## Smoke runs")
    rows = {line.split("`experiment=")[1].split("`")[0]: line for line in main.splitlines() if "`experiment=" in line}
    assert "90.1 (k = 5,000 in the test bound" in rows["burda2016_vae_mnist"]
    assert "budget target met (90.10 ≤ 90.5)" in rows["burda2016_vae_mnist"]
    assert "400 of the paper's 3,280 passes" in rows["burda2016_vae_mnist"]
    assert "90 of its 100 training images, 10 held out" in rows["burda2016_vae_mnist"]  # sizes from the data's files
    assert "lower than the VAE's 90.10" in rows["burda2016_iwae_k5_mnist"]
    assert "N_z = 3: -130" in rows["kingma2014_vae_mnist"] and "| holds" in rows["kingma2014_vae_mnist"]
    malhotra = rows["malhotra2016_encdec_ad_ecg"].split(" | ")
    assert malhotra[2] == "–" and malhotra[6] == "–"  # no paper number, so no gap
    assert "lost the UCR row order and the 5-class labels" in rows["malhotra2016_encdec_ad_ecg"]
    assert "-0.0400 against our PCA bar" in rows["malhotra2016_encdec_ad_ecg"]
    assert (
        "**not reproduced**" in rows["higgins2017_beta_vae"]
        and "**not reproduced**" in rows["vandenoord2017_vqvae_cifar10"]
    )
    assert "not run at the paper's setting" in rows["vincent2010_dae_mnist"] and "0.0875" not in main
    assert "`vincent2010_dae_mnist` | `finetune/error` | 0.0875" in smoke
    assert (tmp_path / "results" / "reproduction" / "kingma2014_figure2.png").stat().st_size > 0


def test_the_kingma_verdict_fails_when_another_latent_size_is_lowest(tmp_path):
    out = tmp_path / "out"
    for nz, elbo in ((3, -100.0), (20, -110.0)):
        fake_run(
            out / "kingma2014_vae_mnist" / f"latent_dim_{nz}",
            mnist_config(tmp_path, latent_dim=nz),
            {"test/elbo": elbo},
            9,
        )
    text = write_table(out, tmp_path / "REPRODUCTION.md", tmp_path)
    assert "does not hold: N_z = 20 is lowest" in text


def test_the_table_is_rebuilt_from_the_kept_records_and_carries_over_a_row_that_has_none(tmp_path):
    out, doc = tmp_path / "out", tmp_path / "REPRODUCTION.md"
    config = mnist_config(tmp_path, iwae_samples=5000)
    fake_run(out / "burda2016_vae_mnist" / "run", config, {"test/nll_iwae": 90.1}, 400)
    first = write_table(out, doc, tmp_path)
    shutil.rmtree(out)  # a fresh checkout: the run folders are gone, their records stay with the project
    assert write_table(out, doc, tmp_path) == first
    shutil.rmtree(tmp_path / "results" / "reproduction" / "runs" / "burda2016_vae_mnist")
    text = write_table(out, doc, tmp_path)
    row = next(line for line in text.splitlines() if "`experiment=burda2016_vae_mnist`" in line)
    assert "90.1 (k = 5,000 in the test bound, from the run's config) ‡" in row and "budget target met" in row
    assert "carried over unchanged" in text and "## Burda et al. 2016: where the budget runs were heading" in text
    assert write_table(out, doc, tmp_path) == text  # marked once, however often it is carried
