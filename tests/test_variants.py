"""Every model variant composes with every net and dataset, trains, tests, checkpoints and draws."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from formats import bypass_cifar10_checks, write_fake_cifar10

from aelab.utils.errors import UserError

VARIANTS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml") if not p.stem.startswith("_"))
NETS = ["mlp", "conv"]
DATASETS = ["digits", "mnist_5k", "cifar10"]
SMALL = ["data.batch_size=32"]


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory) -> Path:
    """A fake CIFAR-10 in the official format, written once."""
    return write_fake_cifar10(tmp_path_factory.mktemp("cifar"), n_train=300, n_test=60)


@pytest.fixture
def data_overrides(monkeypatch, cifar_root):
    """Return the overrides that select a dataset; CIFAR-10 reads the fake files."""

    def overrides(data: str) -> list[str]:
        if data != "cifar10":
            return [f"data={data}"]
        bypass_cifar10_checks(monkeypatch)
        return ["data=cifar10", f"data.root={cifar_root}"]

    return overrides


def model_class(compose, variant: str):
    """Return the class a variant's config instantiates."""
    from hydra.utils import get_class

    return get_class(compose(f"model={variant}").model._target_)


def needs_spatial_net(compose, variant: str) -> bool:
    """Return whether the variant only works on nets with spatial features (VQ-VAE)."""
    return model_class(compose, variant).needs_spatial_features


def build(compose, *overrides: str):
    """Compose, then build the data module and the model as aelab-train does."""
    from aelab.train import build_datamodule, build_model

    cfg = compose(*overrides)
    datamodule = build_datamodule(cfg.data)
    return cfg, datamodule, build_model(cfg, datamodule)


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_trains_on_every_net_and_dataset(compose, loss_falls, data_overrides, variant, net, data):
    overrides = [f"model={variant}", f"net={net}", *data_overrides(data), *SMALL]
    if net == "mlp" and needs_spatial_net(compose, variant):
        with pytest.raises(UserError, match="net=conv"):
            build(compose, *overrides)
        return
    loss_falls(*overrides, steps=12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_trains_on_series_with_temporal_convolutions(loss_falls, variant):
    if not (CONFIGS / "net" / "conv1d.yaml").exists():
        pytest.skip("no net=conv1d in this checkout")
    loss_falls(f"model={variant}", "net=conv1d", "data=synthetic_ts", *SMALL, steps=12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_reports_its_terms_and_reloads_from_a_weights_only_checkpoint(compose, tmp_path, variant):
    import pytorch_lightning as pl

    net = "conv" if needs_spatial_net(compose, variant) else "mlp"
    _, datamodule, model = build(compose, f"model={variant}", f"net={net}", "data=digits", *SMALL)
    x = next(iter(datamodule.test_dataloader()))[0]
    out = model.step_output(x, "test")
    trainer = pl.Trainer(
        accelerator="cpu", limit_test_batches=2, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (results,) = trainer.test(model, datamodule=datamodule)
    expected = {f"test/{k}" for k in (*out.terms, *out.stats)} | {"test/loss"}
    if model.can_decode:  # reconstruction metrics for the models that reconstruct
        expected |= {"test/mse", "test/psnr"}
    assert expected <= set(results), f"{variant} does not report {expected - set(results)}"

    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    reloaded = type(model).load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
    assert dict(reloaded.hparams) == checkpoint["hyper_parameters"]
    model.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(x), model(x), atol=1e-6)


def test_uniformity_regulariser_is_a_weighted_term_for_every_variant(compose):
    for variant in VARIANTS:
        net = "conv" if needs_spatial_net(compose, variant) else "mlp"
        _, datamodule, model = build(
            compose, f"model={variant}", f"net={net}", "data=digits", "model.weight_uniformity=0.5", *SMALL
        )
        loss, out, _ = model._shared_step(next(iter(datamodule.train_dataloader())), "train")
        assert "uniformity" in out.terms and out.terms["uniformity"] < 0, variant
        loss.backward()


@pytest.mark.parametrize("variant", ["vae", "ae"])
def test_generative_pictures_are_saved_for_models_that_sample(compose, tmp_path, variant):
    import pytorch_lightning as pl
    from PIL import Image

    from aelab.utils.instantiate import instantiate_group

    cfg, datamodule, model = build(compose, f"model={variant}", "data=digits", "callbacks=default", *SMALL)
    callbacks = [c for c in instantiate_group(cfg.callbacks) if type(c).__module__ == "aelab.callbacks.generative"]
    assert {type(c).__name__ for c in callbacks} == {"SampleGrid", "InterpolationGrid", "LatentTraversal"}
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
    )
    trainer.fit(model, datamodule=datamodule)
    images = Path(cfg.paths.output_dir) / "images"
    names = sorted(p.name for p in images.glob("*.png")) if images.exists() else []
    if variant == "ae":  # a plain autoencoder cannot sample: the callbacks skip it
        assert names == []
        return
    assert names == ["interpolation_epoch_000.png", "samples_epoch_000.png", "traversal_epoch_000.png"]
    with Image.open(images / "interpolation_epoch_000.png") as picture:
        width, height = picture.size
    assert width == 10 * (8 + 2) + 2 and height == 4 * (8 + 2) + 2  # 10 steps by 4 pairs of 8x8 digits
