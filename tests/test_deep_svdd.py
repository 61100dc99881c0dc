"""model=deep_svdd: a fixed centre from the first forward pass, no bias terms, a pretrained start, distance scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import aelab
from aelab.utils.errors import UserError, find_user_error

DIGIT = ["data=digits", "data.normal_classes=[0]", "data.val_fraction=0", "net=lenet", "model.latent_dim=8"]
QUIET = ["callbacks.model_checkpoint.monitor=null", "trainer.max_epochs=3", "data.batch_size=64"]


def train(compose, run: str, *overrides: str) -> tuple[Path, dict]:
    cfg = compose(*DIGIT, *QUIET, "callbacks=default", *overrides, run=run)
    return Path(cfg.paths.output_dir), aelab.train(cfg)


@pytest.fixture
def dcae(compose) -> Path:
    """A LeNet autoencoder trained briefly on digit 0: the pretrained start."""
    folder, _ = train(compose, "dcae", "model=ae", "loss=mse", "trainer.max_epochs=15")
    return folder / "checkpoints" / "last.ckpt"


def centre_of(model, x: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """The mean code in eval mode, coordinates near 0 moved to +-eps (as the model computes it)."""
    model.eval()
    with torch.no_grad():
        mean = model.encoder(x).mean(0)
    return torch.where(mean.abs() < eps, torch.where(mean < 0, -eps, eps), mean)


@pytest.mark.slow
def test_starts_from_the_dcae_fixes_c_from_the_first_pass_and_scores_by_the_distance(compose, dcae):
    from aelab.checkpoint import load_model
    from aelab.data.batches import to_float
    from aelab.train import build_datamodule

    ae = load_model(dcae)
    data = build_datamodule(compose(*DIGIT).data)
    x, test = to_float(data.train_x), to_float(data.test_x)
    # One step at rate 0: the encoder is the DCAE's and c its mean code.
    folder, _ = train(
        compose, "frozen", "model=deep_svdd", f"model.init_from={dcae}", "optimizer.lr=0", "trainer.max_epochs=1"
    )
    frozen = load_model(folder / "checkpoints" / "last.ckpt")
    for (name, weight), (_, source) in zip(frozen.encoder.named_parameters(), ae.encoder.named_parameters()):
        torch.testing.assert_close(weight, source, msg=name)
    torch.testing.assert_close(frozen.center, centre_of(ae, x))
    # Trained on: c stays where the first pass put it, is no parameter, and the distances to it shrink.
    folder, metrics = train(
        compose, "trained", "model=deep_svdd", f"model.init_from={dcae}", "optimizer.lr=1e-3", "eval.enabled=true",
        "eval.analyses=[anomaly]",
    )  # fmt: skip
    model = load_model(folder / "checkpoints" / "last.ckpt")
    torch.testing.assert_close(model.center, frozen.center)
    assert all(p.data_ptr() != model.center.data_ptr() for p in model.parameters())
    # (in training mode, the objective's own: batch statistics rather than the running ones)
    assert model.train().distance(model.encode(x)).mean() < frozen.train().distance(frozen.encode(x)).mean()
    model.eval()
    # The anomaly score is the squared distance to c, spread over the pixels so that it sums to it.
    test = test[:10]
    with torch.no_grad():
        scores = model.anomaly_map(test).flatten(1).sum(1)
        torch.testing.assert_close(scores, (model.encode(test) - model.center).pow(2).sum(1))
    assert metrics["anomaly/auroc"] > 0.8 and "anomaly/pca_auroc" in metrics


def test_the_encoder_has_no_bias_terms_and_c_keeps_away_from_zero(compose):
    from aelab.train import build_datamodule, build_model

    for net in ("lenet", "mlp", "conv"):
        cfg = compose(*DIGIT, "model=deep_svdd", f"net={net}")
        model = build_model(cfg, build_datamodule(cfg.data))
        names = [name for name, _ in model.named_parameters()]
        assert names and not [n for n in names if n.endswith("bias")], (net, names)
        assert not [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and m.affine]
        model.train()
        # With no shift anywhere, all-zero weights would map every input to 0, which c never is (|c_i| >= eps).
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        assert torch.equal(model.encode(torch.rand(4, 1, 8, 8)), torch.zeros(4, 8)), net
    assert (centre_of(model, torch.zeros(3, 1, 8, 8)).abs() >= 0.1).all()


def test_soft_boundary_sets_the_radius_to_the_distance_quantile(compose):
    folder, _ = train(
        compose, "soft", "model=deep_svdd", "model.objective=soft-boundary", "model.nu=0.2", "model.warm_up_epochs=2",
        "model.radius_every=1", "trainer.max_epochs=2",
    )  # fmt: skip
    from aelab.checkpoint import load_model

    model = load_model(folder / "checkpoints" / "last.ckpt")
    assert float(model.radius) > 0
    x = torch.rand(6, 1, 8, 8)
    with torch.no_grad():
        distance = model.distance(model.encode(x))
        torch.testing.assert_close(model.score(x), distance - model.radius**2)


def test_what_deep_svdd_cannot_do_is_refused_in_one_sentence(compose, tmp_path):
    from aelab.metrics.analyses import select_analyses
    from aelab.models.deep_svdd import load_encoder
    from aelab.train import build_datamodule, build_model

    cfg = compose(*DIGIT, "model=deep_svdd")
    data = build_datamodule(cfg.data)
    model = build_model(cfg, data)
    assert not model.can_decode and set(select_analyses("all", model, data)) >= {"anomaly", "codes"}
    assert not set(select_analyses("all", model, data)) & {"reconstruction", "denoising", "compression"}
    with pytest.raises(UserError, match="has no decoder"):
        select_analyses(["reconstruction"], model, data)
    with pytest.raises(UserError, match="has no decoder"):
        model.decode(torch.zeros(1, 8))
    other = build_model(compose(*DIGIT, "model=ae", "net=lenet", "net.channels=[6,4]"), data)
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": other.state_dict()}, path)
    with pytest.raises(UserError, match="does not match this one"):
        load_encoder(model.encoder, str(path))
    series = compose("data=synthetic_ts", "model=deep_svdd", "net=lstm")
    with pytest.raises(Exception) as caught:
        build_model(series, build_datamodule(series.data))
    assert "recurrent net" in str(find_user_error(caught.value))
