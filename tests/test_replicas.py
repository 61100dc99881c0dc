"""Vectorised replicas (`seeds=[...]`): each replica trains exactly as the single run with its seed would.

Tolerance: replicas run their layers as one batched matrix product (vmap) where a single run runs one
per replica; float32 sums taken in another order differ in the last bits, and the optimizer carries
that on (Adam divides each gradient by its own scale, so near-zero gradients amplify it). Measured: at
most 1.0e-6 of a weight tensor's norm after 8 steps at lr 1e-3, 1.7e-5 after 28 steps at lr 3e-2. So
each weight tensor must agree to 1e-4 of its norm, and losses to 1e-4 relative.
"""

from __future__ import annotations

import json

import pytest
import torch

import aelab
from aelab.utils.errors import UserError, find_user_error

pytestmark = pytest.mark.slow  # each test trains several runs; make test-fast leaves them out
SEEDS = (0, 1, 2)
TOLERANCE = {"rel": 1e-4, "abs": 1e-6}


def last_weights(folder) -> dict[str, torch.Tensor]:
    """The state dict of a run folder's last checkpoint."""
    return torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_same_weights(mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], replica: int) -> None:
    """Every weight tensor equal to 1e-4 of its norm (see the module's docstring)."""
    assert mine.keys() == theirs.keys()
    for name, tensor in theirs.items():
        gap = float((mine[name] - tensor).norm() / tensor.norm().clamp_min(1e-12))
        assert gap < 1e-4, (replica, name, gap)


@pytest.fixture
def replicas_and_singles(compose, tmp_path):
    """Train seeds=[0,1,2] as replicas and as three single runs with the same overrides; return both folders' parts."""

    def run(*overrides: str):
        together = aelab.train(compose("data=digits", *overrides, "seeds=[0,1,2]", run="replicas"))
        singles = [aelab.train(compose("data=digits", *overrides, f"seed={s}", run=f"single{s}")) for s in SEEDS]
        folders = [tmp_path / "replicas" / "replicas" / str(k) for k in range(len(SEEDS))]
        return together, singles, folders, [tmp_path / f"single{s}" for s in SEEDS]

    return run


@pytest.mark.parametrize("model", ["ae", "vae", "denoising_ae"])
def test_each_replica_trains_exactly_as_its_single_run(replicas_and_singles, model):
    together, singles, replica_folders, single_folders = replicas_and_singles(f"model={model}")
    for k, (single, replica_folder, single_folder) in enumerate(zip(singles, replica_folders, single_folders)):
        replica = json.loads((replica_folder / "metrics.json").read_text())
        for key in ("train/loss", "val/loss", "val/loss_best", "test/loss", "test/mse"):
            assert replica[key] == pytest.approx(single[key], **TOLERANCE), (k, key)
            assert together[f"{key}_replica{k}"] == pytest.approx(single[key], **TOLERANCE), (k, key)
        assert_same_weights(last_weights(replica_folder), last_weights(single_folder), k)
    values = [s["test/loss"] for s in singles]
    assert together["test/loss"] == pytest.approx(sum(values) / 3, **TOLERANCE)
    assert together["test/loss_std"] > 0  # the seeds differ: their spread is reported


def test_gradient_clipping_is_per_replica(replicas_and_singles):
    together, singles, *_ = replicas_and_singles("trainer.gradient_clip_val=0.05")
    for k, single in enumerate(singles):
        assert together[f"val/loss_best_replica{k}"] == pytest.approx(single["val/loss_best"], **TOLERANCE)


def test_early_stopping_stops_each_replica_alone_and_freezes_it(compose, tmp_path):
    # A large step, so that validation stalls early; patience 1 then stops the seeds at different epochs.
    common = [
        "data=digits",
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        "trainer.max_epochs=10",
        "optimizer.lr=0.03",
        "trainer.enable_progress_bar=false",
    ]
    together = aelab.train(compose(*common, "seeds=[0,1,2]", run="replicas"))
    stopped = []
    for k, seed in enumerate(SEEDS):
        single = aelab.train(compose(*common, f"seed={seed}", run=f"single{seed}"))
        assert together[f"val/loss_best_replica{k}"] == pytest.approx(single["val/loss_best"], **TOLERANCE), k
        # The replica's last weights are those of the epoch its single run stopped at: it was frozen there.
        assert_same_weights(
            last_weights(tmp_path / "replicas" / "replicas" / str(k)), last_weights(tmp_path / f"single{seed}"), k
        )
        stopped.append(torch.load(tmp_path / f"single{seed}" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"])
    assert len(set(stopped)) > 1 and max(stopped) < 9, stopped  # they stopped, and not all at once


def test_a_replica_folder_is_a_single_run_folder(compose, tmp_path):
    aelab.train(compose("data=digits", "seeds=[3,4]"))
    folder = tmp_path / "run" / "replicas" / "1"
    model = aelab.load_model(str(folder / "checkpoints" / "last.ckpt"))
    assert model.encode(torch.rand(2, 1, 8, 8)).shape == (2, 32)
    saved = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["aelab"]["config"]
    assert saved["seed"] == 4 and saved["seeds"] is None
    assert "seed=4" in (folder / ".hydra" / "overrides.yaml").read_text()
    with pytest.raises(UserError, match="replicas/<k>/checkpoints"):
        aelab.load_model(str(tmp_path / "run" / "checkpoints" / "last.ckpt"))


def test_collect_summarises_replicas_as_the_seeds_of_one_setting(compose, tmp_path):
    from aelab.collect import load_jobs, summarise

    aelab.train(compose("data=digits", "seeds=[0,1,2]"))
    jobs = load_jobs([tmp_path / "run"])
    assert len(jobs.frame) == 3 and sorted(jobs.frame["seed"].astype(int)) == [0, 1, 2]
    table = summarise(jobs, ["test/loss"])
    assert list(table["n"]) == [3]


def test_a_replicas_run_resumes_exactly(compose, tmp_path):
    straight = aelab.train(compose("data=digits", "model=vae", "seeds=[0,1]", "trainer.max_epochs=3", run="straight"))
    aelab.train(compose("data=digits", "model=vae", "seeds=[0,1]", "trainer.max_epochs=1", "test=false", run="resumed"))
    resumed = aelab.train(
        compose("data=digits", "model=vae", "seeds=[0,1]", "trainer.max_epochs=3", "ckpt_path=last", run="resumed")
    )
    for key in ("val/loss_best_replica0", "val/loss_best_replica1", "test/loss_replica1"):
        assert resumed[key] == pytest.approx(straight[key], **TOLERANCE), key


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        (("model=vq_vae", "net=conv"), "codebook is updated in place"),
        (("model=aae",), "two optimizers"),
        (("model=contractive_ae",), "differentiates the encoder"),
        (("net=mlp", "net.dropout=0.1"), "net.dropout > 0"),
        (("net.norm=batch",), "batch norm"),
        (("scheduler=plateau",), "one learning rate per replica"),
        (("trainer=ddp_cpu",), "drop trainer=ddp"),
        (("seeds=[1,1]",), "repeats a seed"),
    ],
)
def test_what_replicas_cannot_train_is_refused_in_one_sentence(compose, overrides, phrase):
    seeds = () if any(o.startswith("seeds=") for o in overrides) else ("seeds=[0,1]",)
    with pytest.raises(Exception) as raised:
        aelab.train(compose("data=digits", *overrides, *seeds))
    error = find_user_error(raised.value)
    assert error is not None and phrase in str(error), repr(raised.value)


def test_a_diverging_replica_is_named(compose):
    cfg = compose(
        "data=digits",
        "seeds=[0,1]",
        "loss=mse",
        "data.output_activation=identity",
        "optimizer=sgd",
        "optimizer.lr=1e4",
        "trainer.log_every_n_steps=1",
    )
    with pytest.raises(Exception) as raised:
        aelab.train(cfg)
    assert "replica 0 (seed 0)" in str(find_user_error(raised.value))


VECTORISED = [
    ("model=sparse_ae",),
    ("model=beta_vae",),
    ("model=wae",),
    ("model=ksparse_ae",),
    ("model=vae", "net=conv"),
    ("model=ae", "net=linear", "loss=mse", "data.output_activation=identity"),
    ("model=denoising_ae", "data=synthetic_ts", "net=conv1d", "data.window=32", "data.stride=8"),
]


@pytest.mark.parametrize("overrides", VECTORISED, ids=[" ".join(v) for v in VECTORISED])
def test_every_vectorisable_variant_and_net_matches_its_single_run(compose, overrides):
    data = () if any(o.startswith("data=") for o in overrides) else ("data=digits",)
    together = aelab.train(compose(*data, *overrides, "seeds=[5,6]", run="replicas"))
    single = aelab.train(compose(*data, *overrides, "seed=6", run="single"))
    for key in ("val/loss_best", "test/loss"):
        assert together[f"{key}_replica1"] == pytest.approx(single[key], **TOLERANCE), key
