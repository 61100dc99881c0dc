"""The one-class and learnt-features rows of REPRODUCTION.md: extra seeds, pretrained starts, per-digit verdicts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from formats import write_mnist

sys.path.insert(0, str(REPO / "scripts"))

import reproduce  # noqa: E402
from papers import BY_NAME, RUFF_ROWS  # noqa: E402
from reproduction_table import write_table  # noqa: E402


def finished_run(folder: Path, config: dict, metrics: dict, passes: int, total: int, budget: float | None = 30.0):
    """The files a finished session leaves in a job folder."""
    (folder / ".hydra").mkdir(parents=True)
    config = {"trainer": {"max_epochs": total}, "loss": {"name": "mse"}, **config}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    session = {"budget_minutes": budget, "passes_after": passes, "train_minutes": 3.0, "wall_minutes": 4.0}
    (folder / "sessions.json").write_text(json.dumps([session]))


def one_class(digit: int, root: Path) -> dict:
    data = {"_target_": "aelab.data.MNISTDataModule", "root": str(root), "val_fraction": 0, "normal_classes": [digit]}
    return {"data": {**data, "contrast_norm": "l1", "minmax_scale": True}}


def test_the_one_class_experiments_add_seeds_and_start_deep_svdd_from_its_digits_dcae(tmp_path):
    dcae, svdd = BY_NAME["ruff2018_oneclass_mnist"], BY_NAME["ruff2018_deep_svdd_mnist"]
    jobs = reproduce.sweep_jobs(dcae, tmp_path / "ruff2018_oneclass_mnist")
    names = [job.folder.name for job in jobs]
    assert names[:10] == [f"normal_classes_{d}" for d in range(10)]
    assert names[10:] == ["normal_classes_5_seed_1", "normal_classes_5_seed_2", "normal_classes_8_seed_1",
                          "normal_classes_8_seed_2"]  # fmt: skip
    assert jobs[11].overrides == ("data.normal_classes=[5]", "seed=2")
    assert len(reproduce.sweep_jobs(dcae, tmp_path, extra=False)) == 10  # smoke runs: the sweep alone
    job = reproduce.sweep_jobs(svdd, tmp_path / "ruff2018_deep_svdd_mnist")[11]
    with pytest.raises(SystemExit, match="run --only ruff2018_oneclass_mnist first"):
        reproduce.pretrained(svdd, job)
    checkpoint = tmp_path / "ruff2018_oneclass_mnist" / "normal_classes_5_seed_2" / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")
    assert reproduce.pretrained(svdd, job) == [f"model.init_from={checkpoint}"]
    assert reproduce.pretrained(dcae, jobs[0]) == []


def test_one_class_rows_average_seeds_per_digit_and_judge_every_digit(tmp_path):
    out, root = tmp_path / "out", tmp_path / "data"
    write_mnist(root / "MNIST" / "raw", n_train=100, n_test=30)
    paper = RUFF_ROWS["ruff2018_oneclass_mnist"]
    for digit in range(10):
        auroc = paper[digit] / 100 + (0.08 if digit == 3 else 0.0)  # digit 3 is off by more than 0.05
        metrics = {"anomaly/auroc": auroc, "anomaly/pca_auroc": 0.95}
        finished_run(
            out / "ruff2018_oneclass_mnist" / f"normal_classes_{digit}", one_class(digit, root), metrics, 60, 350
        )
        svdd = {"anomaly/auroc": 0.94, "anomaly/pca_auroc": 0.95}
        finished_run(
            out / "ruff2018_deep_svdd_mnist" / f"normal_classes_{digit}", one_class(digit, root), svdd, 150, 150
        )
    for seed, auroc in ((1, 0.70), (2, 0.74)):  # digit 5: 0.782, 0.70, 0.74 over three seeds
        config = {**one_class(5, root), "seed": seed}
        metrics = {"anomaly/auroc": auroc, "anomaly/pca_auroc": 0.95}
        finished_run(out / "ruff2018_oneclass_mnist" / f"normal_classes_5_seed_{seed}", config, metrics, 60, 350)
    text = write_table(out, tmp_path / "REPRODUCTION.md", tmp_path)
    rows = {line.split("`experiment=")[1].split("`")[0]: line for line in text.splitlines() if "`experiment=" in line}
    dcae = rows["ruff2018_oneclass_mnist"]
    assert "5: 0.741 ± 0.041 over 3 seeds (paper 0.782)" in dcae and "3: 0.947 (paper 0.867)" in dcae
    assert "target missed" in dcae and "outside 0.05: 3 (+0.080), 5 (-0.041)" not in dcae
    assert "outside 0.05: 3 (+0.080)" in dcae and "at the budget (60 of 350 passes)" in dcae
    assert "training on digit 0 only" in dcae and "global contrast normalisation (l1)" in dcae
    svdd = rows["ruff2018_deep_svdd_mnist"]
    assert "target met (mean ≥ 0.93)" in svdd and "PCA's mean 0.9500" in svdd and "the DCAE's" in svdd
    assert "**full**" in svdd and "at the budget" not in svdd


def test_feature_rows_judge_test_errors_and_accuracies_beside_their_baselines(tmp_path):
    out, root = tmp_path / "out", tmp_path / "data"
    data = {"data": {"_target_": "aelab.data.MNISTDataModule", "root": str(root), "val_fraction": 0.16666667}}
    finetuned = {"finetune/epochs": 36, "finetune/best_epoch": 30, "finetune/scratch_error": 0.019}
    finished_run(out / "vincent2010_dae_mnist" / "run", data, {"finetune/error": 0.0142, **finetuned}, 45, 45)
    finished_run(out / "rifai2011_cae_mnist" / "run", data, {"finetune/error": 0.0171, **finetuned}, 20, 20)
    finished_run(out / "rifai2011_dae_mnist" / "run", data, {"finetune/error": 0.0155}, 20, 20)
    ufldl = {"self_taught/accuracy": 0.981, "self_taught/official_accuracy": 0.985, "self_taught/pixels_accuracy": 0.96}
    finished_run(out / "ng_sparse_ae_mnist" / "run", data, ufldl, 400, 400, budget=None)
    text = write_table(out, tmp_path / "REPRODUCTION.md", tmp_path)
    rows = {line.split("`experiment=")[1].split("`")[0]: line for line in text.splitlines() if "`experiment=" in line}
    assert "1.42% test error (fine-tuned 36 epochs, best at 30)" in rows["vincent2010_dae_mnist"]
    assert "target met (≤ 1.6%); the same network without pretraining 1.90%" in rows["vincent2010_dae_mnist"]
    cae = rows["rifai2011_cae_mnist"]
    assert "target missed by 0.11% (≤ 1.6%)" in cae and "plain AE not run" in cae and "DAE 1.55%" in cae
    assert "the CAE's row compares: CAE 1.71%" in rows["rifai2011_dae_mnist"]
    assert "98.10% (official test images of 0-4: 98.50%)" in rows["ng_sparse_ae_mnist"]
    assert "target met (≥ 97%); raw pixels 96.00%" in rows["ng_sparse_ae_mnist"]
