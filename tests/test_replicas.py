"""Vectorised replicas (`seeds=[...]`): each replica trains exactly as the single run with its seed would.

Tolerance: replicas run their layers as one batched matrix product (vmap) where a single run runs one
per replica; float32 sums taken in another order differ in the last bits, and the optimizer carries
that on (Adam divides each gradient by its own scale, so near-zero gradients amplify it). Measured: at
most 1.0e-6 of a weight tensor's norm after 8 steps at lr 1e-3, 1.7e-5 after 28 steps at lr 3e-2. So
each weight tensor must agree to 1e-4 of its norm, and losses to 1e-4 relative. The WAE's kernel sums drift
further (5.8e-4 after 8 steps), so the tests of every variant and net run in float64, where replicas and
single runs agree to 1e-15 (measured): there they must agree to 1e-9.
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
EXACT = {"rel": 1e-9, "abs": 1e-12}  # float64 (trainer.precision=64-true)


def last_weights(folder) -> dict[str, torch.Tensor]:
    """The state dict of a run folder's last checkpoint."""
    return torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_same_weights(mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], replica: int, rel=1e-4) -> None:
    """Every weight tensor equal to `rel` of its norm (see the module's docstring)."""
    assert mine.keys() == theirs.keys()
    for name, tensor in theirs.items():
        gap = float((mine[name] - tensor).norm() / tensor.norm().clamp_min(1e-12))
        assert gap < rel, (replica, name, gap)


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


@pytest.mark.parametrize("min_delta", [0.0, 0.3])
def test_early_stopping_stops_each_replica_alone_and_freezes_it(compose, tmp_path, min_delta):
    # A large step, so that validation stalls early; patience 1 then stops the seeds at different epochs. With
    # min_delta they stop sooner, while their best checkpoints still keep the strictly lowest val/loss.
    common = [
        "data=digits",
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        f"callbacks.early_stopping.min_delta={min_delta}",
        "trainer.max_epochs=10",
        "optimizer.lr=0.03",
        "trainer.enable_progress_bar=false",
        "trainer.precision=64-true",
    ]
    together = aelab.train(compose(*common, "seeds=[0,1,2]", run="replicas"))
    stopped = []
    for k, seed in enumerate(SEEDS):
        single = aelab.train(compose(*common, f"seed={seed}", run=f"single{seed}"))
        for key, value in single.items():
            assert together[f"{key}_replica{k}"] == pytest.approx(value, **EXACT), (k, key)
        # The replica's last weights are those of the epoch its single run stopped at: it was frozen there.
        mine, theirs = tmp_path / "replicas" / "replicas" / str(k), tmp_path / f"single{seed}"
        assert_same_weights(last_weights(mine), last_weights(theirs), k, rel=EXACT["rel"])
        assert_same_checkpoints(mine / "checkpoints", theirs / "checkpoints")
        stopped.append(torch.load(theirs / "checkpoints" / "last.ckpt", weights_only=True)["epoch"])
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


def test_each_replica_runs_the_analyses_of_its_single_run(compose, tmp_path):
    common = ("data=digits", "eval.enabled=true", "eval.analyses=[reconstruction]", "trainer.precision=64-true")
    together = aelab.train(compose(*common, "seeds=[0,1]", run="replicas"))
    single = aelab.train(compose(*common, "seed=1", run="single"))
    analysed = [key for key in single if key.startswith("recon/")]
    assert analysed, sorted(single)
    for key in analysed:
        assert together[f"{key}_replica1"] == pytest.approx(single[key], **EXACT), key
    assert (tmp_path / "replicas" / "replicas" / "1" / "analyses").is_dir()


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
        (("model=vq_vae", "net=conv"), "model=VQVAE cannot be trained as vectorised replicas"),
        (("model=aae",), "model=AdversarialAE cannot be trained"),
        (("model=contractive_ae",), "model=ContractiveAE cannot be trained"),
        (("net=lstm", "data=synthetic_ts"), "net=LSTM cannot be vectorised"),
        (("net=mlp", "net.dropout=0.1"), "net.dropout > 0"),
        (("net.norm=batch",), "batch norm"),
        (("optimizer._target_=torch.optim.LBFGS",), "not elementwise"),
        (("scheduler=plateau",), "one learning rate per replica"),
        (("trainer=ddp_cpu",), "drop trainer=ddp"),
        (("trainer.devices=2",), "on one device"),
        (("trainer.precision=16-mixed",), "scales the loss of all replicas together"),
        (("debug=fdr",), "writes no checkpoints"),
        (("train=false",), "with train=false, test each replica's folder"),
        (("callbacks=early_stopping", "+callbacks.early_stopping.stopping_threshold=0.1"), "is not applied per"),
        (("callbacks.model_checkpoint.monitor=train/loss",), "lowest val/loss"),
        (("+callbacks.curve._target_=aelab.callbacks.curves.ELBOCurve", "model=vae"), "not on stacked replicas"),
        (("seeds=[1,1]",), "repeats a seed"),
        (("seeds=3",), "should be a list of whole numbers"),
    ],
)
def test_what_replicas_cannot_train_is_refused_in_one_sentence(compose, overrides, phrase):
    seeds = () if any(o.startswith("seeds=") for o in overrides) else ("seeds=[0,1]",)
    data = () if any(o.startswith("data=") for o in overrides) else ("data=digits",)
    with pytest.raises(Exception) as raised:
        aelab.train(compose(*data, *overrides, *seeds))
    error = find_user_error(raised.value)
    assert error is not None and phrase in str(error), repr(raised.value)


def test_a_replicas_run_resumes_only_as_the_same_replicas(compose, tmp_path):
    aelab.train(compose("data=digits", "seeds=[0,1]", "test=false", run="first"))
    with pytest.raises(Exception) as raised:
        aelab.train(compose("data=digits", "seeds=[0,2]", f"ckpt_path={tmp_path / 'first/checkpoints/last.ckpt'}"))
    assert "seeds [0, 1] (this run: [0, 2])" in str(find_user_error(raised.value))


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
    ("model=beta_vae", "model.capacity_max=5", "model.capacity_steps=20"),  # reads the trainer's step count
    ("model=vae", "model.kl_warmup_epochs=2"),  # so does the KL warm-up
    ("model=vae", "model.iwae_samples=4"),
    ("model=wae",),
    ("model=ksparse_ae",),
    ("model=ksparse_ae", "model.alpha=2"),  # keeps more units in evaluation: the template's train/eval mode
    ("model=vae", "net=conv"),
    ("model=ae", "net=linear", "loss=mse", "data.output_activation=identity"),
    ("model=ae", "optimizer=adamw", "scheduler=cosine"),
    ("model=ae", "callbacks.model_checkpoint.monitor=null"),  # tested on its last weights, as its single run
    ("model=denoising_ae", "optimizer.lr=0.03", "trainer.max_epochs=5"),  # seed 6's best epoch is not its last
    ("model=vae", "callbacks=default"),  # its single run draws pictures, which must not move its noise
    ("model=denoising_ae", "data=synthetic_ts", "net=conv1d", "data.window=32", "data.stride=8"),
]


@pytest.mark.parametrize("overrides", VECTORISED, ids=[" ".join(v) for v in VECTORISED])
def test_every_vectorisable_variant_and_net_matches_its_single_run(compose, tmp_path, overrides):
    data = () if any(o.startswith("data=") for o in overrides) else ("data=digits",)
    common = (*data, *overrides, "trainer.precision=64-true")
    together = aelab.train(compose(*common, "seeds=[5,6]", run="replicas"))
    for k, seed in enumerate((5, 6)):
        single = aelab.train(compose(*common, f"seed={seed}", run=f"single{seed}"))
        assert {key for key in together if key.endswith(f"_replica{k}")} == {f"{key}_replica{k}" for key in single}
        for key, value in single.items():
            assert together[f"{key}_replica{k}"] == pytest.approx(value, **EXACT), (k, key)
        mine, theirs = tmp_path / "replicas" / "replicas" / str(k), tmp_path / f"single{seed}"
        if (theirs / "checkpoints" / "last.ckpt").is_file():
            assert_same_weights(last_weights(mine), last_weights(theirs), k, rel=EXACT["rel"])
        assert_same_checkpoints(mine / "checkpoints", theirs / "checkpoints")


def assert_same_checkpoints(mine, theirs) -> None:
    """The same checkpoint files, each holding the same noise streams (where a resumed run's draws go on)."""
    names = sorted(p.name for p in theirs.glob("*.ckpt"))
    assert sorted(p.name for p in mine.glob("*.ckpt")) == names
    for name in names:
        streams = [torch.load(folder / name, weights_only=True).get("aelab_noise", {}) for folder in (mine, theirs)]
        assert streams[0].keys() >= streams[1].keys(), name  # a replica's untouched stream is a run's unmade one
        assert all(torch.equal(streams[0][key], streams[1][key]) for key in streams[1]), name
