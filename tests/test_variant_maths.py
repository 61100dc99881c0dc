"""The variants' maths: closed forms against references, and each regulariser doing its job after training."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

import aelab
from aelab.models.base import uniformity
from aelab.models.contractive import jacobian_sq
from aelab.models.denoising import corrupt
from aelab.models.sparse import bernoulli_kl
from aelab.models.vae import gaussian_kl, gaussian_log_prob
from aelab.utils.errors import UserError

SMALL = ["data=digits", "data.batch_size=16"]


@pytest.fixture
def build(compose):
    """Return a function building (model, a test batch) from overrides."""

    def make(*overrides: str):
        from aelab.train import build_datamodule, build_model

        cfg = compose(*overrides)
        datamodule = build_datamodule(cfg.data)
        return build_model(cfg, datamodule), next(iter(datamodule.test_dataloader()))[0]

    return make


def frobenius_sq(encoder, x: torch.Tensor) -> torch.Tensor:
    """||J||_F^2 per sample from torch's own Jacobian, one sample at a time (the reference)."""
    rows = [torch.autograd.functional.jacobian(lambda v: encoder(v[None])[0], sample) for sample in x]
    return torch.stack([j.pow(2).sum() for j in rows])


# -- closed forms against references ------------------------------------------------------------
def test_gaussian_kl_equals_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(64, 16) * 2, torch.randn(64, 16)
    reference = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert torch.allclose(gaussian_kl(mu, logvar), reference, atol=1e-5)
    z = torch.randn(64, 16)
    reference = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    assert torch.allclose(gaussian_log_prob(z, mu, logvar), reference, atol=1e-4)


def test_vae_logs_the_kl_of_its_posterior_in_nats_summed_over_dimensions(build):
    model, x = build("model=vae", *SMALL)
    out = model.step_output(x, "val")
    mu, logvar = model.posterior(x)
    reference = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    assert torch.allclose(out.stats["kl"], reference, atol=1e-5) and out.stats["kl"] >= 0
    assert torch.allclose(out.stats["elbo"], -(out.terms["recon"] + out.stats["kl"]))
    assert torch.allclose(out.terms["recon"], model.recon_loss.nll(out.logits, x).mean())


def test_iwae_objective_trains_the_importance_weighted_bound(build):
    model, x = build("model=vae", "model.train_samples=16", *SMALL)
    torch.manual_seed(0)
    out = model.step_output(x, "train")
    assert list(out.terms) == ["iwae"]  # the bound replaces the ELBO's two terms
    torch.manual_seed(0)
    mu, logvar = model.posterior(x)
    torch.randn_like(mu)  # step_output's draw of z, so that the k draws below are its own
    assert torch.allclose(out.terms["iwae"], model.iwae_nll(x, 16, mu, logvar).mean())
    assert "iwae" not in model.step_output(x, "val").terms  # validation stays the negative ELBO
    with pytest.raises(UserError, match="model.beta=1"):
        build("model=vae", "model.train_samples=4", "model.beta=2", *SMALL)


def test_kl_weight_does_not_depend_on_the_dataset_size(build):
    model, x = build("model=vae", *SMALL)
    torch.manual_seed(0)
    alone = model.step_output(x[:8], "val").terms["kl_penalty"]
    torch.manual_seed(0)
    doubled = model.step_output(torch.cat([x[:8], x[:8]]), "val").terms["kl_penalty"]
    assert torch.allclose(alone, doubled, atol=1e-5)  # a per-sample average: repeating the batch changes nothing


def test_kl_warmup_free_bits_and_capacity_schedules(build):
    model, x = build("model=vae", "model.kl_warmup_epochs=2", "model.free_bits=0.5", *SMALL)
    model._trainer = SimpleNamespace(global_step=5, num_training_batches=10, accumulate_grad_batches=1)
    assert model.kl_weight("train") == pytest.approx(0.25) and model.kl_weight("val") == 1.0
    kl = torch.full((4, 3), 0.1)
    assert float(model.kl_penalty(kl, "train")) == pytest.approx(0.25 * 3 * 0.5)  # each dimension counts >= 0.5 nats
    assert float(model.kl_penalty(kl, "val")) == pytest.approx(0.3)

    beta_vae, _ = build("model=beta_vae", "model.capacity_max=20", "model.capacity_steps=100", "model.gamma=10", *SMALL)
    beta_vae._trainer = SimpleNamespace(global_step=25, num_training_batches=10, accumulate_grad_batches=1)
    assert beta_vae.capacity("train") == pytest.approx(5.0) and beta_vae.capacity("val") == 20.0
    assert float(beta_vae.kl_penalty(torch.full((2, 4), 2.0), "train")) == pytest.approx(10 * abs(8 - 5))
    plain_beta, _ = build("model=beta_vae", *SMALL)
    assert plain_beta.hparams.beta != 1 and float(plain_beta.kl_penalty(kl, "val")) == pytest.approx(4 * 0.3)


def test_kl_warmup_counts_optimizer_steps_under_gradient_accumulation(build):
    model, _ = build("model=vae", "model.kl_warmup_epochs=2", *SMALL)
    # 10 batches an epoch, a step every 4 (and at the epoch's end): 3 optimizer steps an epoch, 6 to warm up.
    model._trainer = SimpleNamespace(global_step=3, num_training_batches=10, accumulate_grad_batches=4)
    assert model.kl_weight("train") == pytest.approx(0.5)
    model._trainer.global_step = 6
    assert model.kl_weight("train") == pytest.approx(1.0)


def test_beta_vae_with_a_capacity_target_selects_checkpoints_on_the_elbo(build):
    model, x = build("model=beta_vae", "model.capacity_max=20", "model.gamma=10", *SMALL)
    model.eval()
    torch.manual_seed(0)
    val = model.step_output(x, "val")
    assert set(val.terms) == {"recon", "kl"}  # val/loss is the negative ELBO ...
    assert torch.allclose(sum(val.terms.values()), -val.stats["elbo"])
    assert torch.allclose(val.stats["objective"], val.terms["recon"] + 10 * (val.stats["kl"] - 20).abs())  # ... beside
    assert "kl_penalty" in model.step_output(x, "train").terms  # training optimises the capacity objective


def test_contractive_closed_form_equals_the_autograd_jacobian(build):
    model, x = build("model=contractive_ae", "net.hidden_dims=[]", "model.code_activation=sigmoid", *SMALL)
    assert model.method() == "closed_form"
    code, closed = model.code_and_jacobian(x[:6])
    assert torch.allclose(closed, frobenius_sq(model.encoder, x[:6]), rtol=1e-4, atol=1e-7)
    assert torch.allclose(code, model.encode(x[:6]))


def test_contractive_exact_and_random_projection_norms(build):
    model, x = build("model=contractive_ae", *SMALL)
    assert model.method() == "exact"  # two hidden layers: no closed form, and 64 inputs are few
    reference = frobenius_sq(model.encoder, x[:4])
    assert torch.allclose(jacobian_sq(model.encoder, x[:4])[1], reference, rtol=1e-4)
    torch.manual_seed(0)
    estimate = jacobian_sq(model.encoder, x[:4], projections=2000)[1]
    assert torch.allclose(estimate, reference, rtol=0.15)


def test_contractive_closed_form_is_refused_for_a_deep_encoder(build):
    with pytest.raises(UserError, match="hidden_dims"):
        build("model=contractive_ae", "model.jacobian=closed_form", *SMALL)


def test_bernoulli_kl_and_uniformity_equal_their_references():
    rates = torch.rand(32) * 0.98 + 0.01
    reference = kl_divergence(Bernoulli(torch.tensor(0.05)), Bernoulli(rates))
    assert torch.allclose(bernoulli_kl(0.05, rates), reference, atol=1e-5)
    z = torch.nn.functional.normalize(torch.randn(40, 8), dim=1)
    assert torch.allclose(uniformity(z * 3, t=2.0), torch.pdist(z).pow(2).mul(-2.0).exp().mean().log(), atol=1e-5)


def test_denoising_corruption_applies_in_training_only(build):
    model, x = build("model=denoising_ae", *SMALL)
    model.eval()
    val = [model.step_output(x, "val").terms["recon"] for _ in range(2)]
    assert torch.equal(val[0], val[1])
    assert torch.allclose(val[0], model.recon_loss.error(model.decoder(model.encoder(x)), x).mean())
    assert not torch.equal(model.step_output(x, "train").terms["recon"], model.step_output(x, "train").terms["recon"])


def test_corruptions_have_the_asked_level():
    torch.manual_seed(0)
    x = torch.rand(200, 1, 28, 28) * 0.8 + 0.1
    assert (corrupt(x, "gaussian", 0.3) - x).std().item() == pytest.approx(0.3, rel=0.02)
    assert (corrupt(x, "masking", 0.25) == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    salted = corrupt(x, "salt_pepper", 0.2)
    changed = salted != x
    assert changed.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(salted[changed].unique().tolist()) <= {x.min().item(), x.max().item()}


def test_vq_quantiser_nearest_code_straight_through_ema_and_restarts(build):
    from aelab.models.vq_vae import VectorQuantizer

    model, x = build("model=vq_vae", "net=conv", *SMALL)
    z_e = model.encoder(x)
    indices, z_q = model.quantizer.quantize(z_e)
    flat = z_e.detach().movedim(1, -1).reshape(-1, z_e.shape[1])
    assert torch.equal(indices.flatten(), torch.cdist(flat, model.quantizer.codebook).argmin(1))
    # Straight through: the decoder's gradient reaches the encoder's output unchanged.
    z_e = z_e.detach().requires_grad_(True)
    model.quantizer.eval()
    z_st, _, _ = model.quantizer(z_e)
    upstream = torch.randn_like(z_st)
    (z_st * upstream).sum().backward()
    assert torch.equal(z_e.grad, upstream)

    quantizer = VectorQuantizer(num_codes=4, dim=2, ema=True, decay=0.5)
    quantizer.initialised.fill_(True)
    quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0], [50.0, 50.0]]))
    quantizer.embed_sum.copy_(quantizer.codebook)
    quantizer.cluster_size.fill_(1.0)
    points = torch.tensor([[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    old = quantizer.codebook.clone()
    quantizer.update(points, quantizer.nearest(points))
    # The EMA update of Razavi et al. (2019), written out: N_k <- d N_k + (1 - d) n_k, m_k <- d m_k + (1 - d) sum x,
    # e_k = m_k / N_k with Laplace smoothing of N_k.
    counts = torch.tensor([2.0, 1.0, 0.0, 0.0])
    sizes = 0.5 * torch.ones(4) + 0.5 * counts
    sums = 0.5 * old + 0.5 * torch.stack([points[:2].sum(0), points[2], torch.zeros(2), torch.zeros(2)])
    n, eps = sizes.sum(), quantizer.eps
    expected = sums / ((sizes + eps) / (n + 4 * eps) * n)[:, None]
    assert torch.allclose(quantizer.cluster_size, sizes) and torch.allclose(quantizer.codebook, expected)
    assert quantizer.codebook[0].tolist() == pytest.approx([2 / 3, 2 / 3], rel=1e-4)
    assert quantizer.steps_unused.tolist() == [0, 0, 1, 1]
    quantizer.steps_unused[3] = 5
    assert quantizer.restart(points, after=5) == 1
    assert any(torch.equal(quantizer.codebook[3], p) for p in points) and quantizer.steps_unused[3] == 0


def test_vq_vae_refuses_a_net_without_spatial_features(build):
    with pytest.raises(UserError, match="net=conv"):
        build("model=vq_vae", "net=mlp", *SMALL)


# -- after a short training on the embedded MNIST subset -----------------------------------------
STEPS = 400  # batches of 128: about 11 passes over the 4,500 training images


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    """Return a function that trains a config on mnist_5k once per module; returns (model, 500 test images)."""
    import pytorch_lightning as pl
    from hydra.core.global_hydra import GlobalHydra

    from aelab.train import build_datamodule, build_model

    cache: dict[tuple[str, ...], tuple] = {}

    def train(*overrides: str, steps: int = STEPS):
        if (*overrides, steps) not in cache:
            GlobalHydra.instance().clear()
            cfg = aelab.compose(
                ["data=mnist_5k", f"paths.data_dir={data_dir}", "trainer=cpu", *overrides],
                output_dir=str(tmp_path_factory.mktemp("run")),
            )
            GlobalHydra.instance().clear()
            pl.seed_everything(0, verbose=False)
            datamodule = build_datamodule(cfg.data)
            model = build_model(cfg, datamodule)
            trainer = pl.Trainer(
                accelerator="cpu",
                max_steps=steps,
                limit_val_batches=0,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
            trainer.fit(model, datamodule=datamodule)
            x = datamodule.test_x[:500].float() / 255
            cache[(*overrides, steps)] = (model.eval(), x)
        return cache[(*overrides, steps)]

    return train


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio for images in [0, 1]."""
    return float(10 * torch.log10(1 / (a - b).pow(2).mean()))


def test_sparse_codes_approach_their_target_where_the_same_net_without_the_penalty_does_not(trained):
    without, x = trained("model=sparse_ae", "model.sparsity_weight=0")
    with torch.no_grad():
        plain = without.encode(x).mean(0)  # each unit's mean activation
        kl = trained("model=sparse_ae", "model.sparsity=kl")[0].encode(x).mean(0)
        l1 = trained("model=sparse_ae", "model.sparsity=l1")[0].encode(x)
    # KL(rho || mean activation) brings every unit's mean near rho = 0.05, far below the unpenalised units' mean.
    # KL(rho || mean activation) pulls the units' mean activation towards rho = 0.05 (0.13 after these 11 epochs),
    # while the same net without the penalty saturates its sigmoid units (0.89).
    rho = 0.05
    assert float(kl.mean()) < 4 * rho and abs(float(kl.mean()) - rho) < 0.15 * abs(float(plain.mean()) - rho)
    # L1 on the code: a summed activation well below that of the same net without the penalty.
    assert float(l1.sum(1).mean()) < 0.5 * float(plain.sum()), (float(l1.sum(1).mean()), float(plain.sum()))


def test_denoising_ae_cleans_noisy_inputs_better_than_a_plain_ae(trained):
    denoising, x = trained("model=denoising_ae")
    plain, _ = trained("model=ae")
    torch.manual_seed(1)
    noisy = denoising.corrupt(x)
    with torch.no_grad():
        assert psnr(denoising(noisy), x) > psnr(plain(noisy), x)


def test_contraction_lowers_the_encoders_jacobian_and_keeps_the_reconstruction(trained):
    # The plain autoencoder of the same net (tied weights, the same code): the CAE with no penalty.
    contractive, x = trained("model=contractive_ae")
    plain, _ = trained("model=contractive_ae", "model.contraction_weight=0")
    x = x[:64]
    norm = lambda model: float(jacobian_sq(model.encoder, x)[1].sqrt().mean())  # noqa: E731
    error = lambda model: float(model.recon_loss.error(model.decoder(model.encoder(x)), x).mean())  # noqa: E731
    assert norm(contractive) < 0.5 * norm(plain), (norm(contractive), norm(plain))
    with torch.no_grad():
        assert error(contractive) < 1.2 * error(plain), (error(contractive), error(plain))


def test_vae_does_not_collapse_and_its_iwae_bound_is_tighter_than_the_elbo(trained):
    vae, x = trained("model=vae")
    torch.manual_seed(0)
    with torch.no_grad():
        out = vae.step_output(x, "val")
        iwae = vae.iwae_nll(x, k=32).mean()
    assert out.stats["kl"] > 1.0  # nats: the posterior carries information about x
    assert iwae <= -out.stats["elbo"]
    assert math.isfinite(float(iwae))


def test_vq_vae_spreads_its_codes_over_the_codebook(trained):
    vq, x = trained("model=vq_vae", "net=conv", steps=100)
    with torch.no_grad():
        out = vq.step_output(x, "val")
    # Codes start on encoder outputs and unused ones restart: a good share of the 512 codes carry the data.
    assert out.stats["perplexity"] > 32 and out.stats["usage"] > 0.1, out.stats


# -- WAE-MMD, the adversarial autoencoder and the k-sparse autoencoder ---------------------------
def test_mmd_is_near_zero_for_samples_of_one_distribution_and_not_for_two():
    from aelab.losses import imq_mmd

    torch.manual_seed(0)
    a, b = torch.randn(400, 8), torch.randn(400, 8)
    shifted, squeezed = torch.randn(400, 8) + 0.5, 0.5 * torch.randn(400, 8)
    same = float(imq_mmd(a, b))
    assert abs(same) < 0.01
    assert float(imq_mmd(a, shifted)) > 10 * abs(same) and float(imq_mmd(a, squeezed)) > 10 * abs(same)
    assert float(imq_mmd(a, shifted)) == pytest.approx(float(imq_mmd(shifted, a)), rel=1e-4)


def test_wae_pulls_its_codes_towards_the_prior(trained):
    from aelab.losses import imq_mmd

    wae, x = trained("model=wae")
    plain, _ = trained("model=wae", "model.mmd_weight=0")
    prior = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert float(imq_mmd(wae.encode(x), prior)) < 0.2 * float(imq_mmd(plain.encode(x), prior))


def test_k_sparse_codes_keep_exactly_k_units(build):
    model, x = build("model=ksparse_ae", "model.k=5", "model.latent_dim=20", "model.alpha=2", *SMALL)
    model.train()
    dense = model.encoder[0](x)
    code = model.encoder(x)
    assert ((code != 0).sum(1) == 5).all()
    assert torch.equal(code.topk(5, 1).values, dense.topk(5, 1).values)  # the five largest, unchanged
    model.eval()
    assert ((model.encode(x) != 0).sum(1) == 10).all()  # alpha * k outside training
    with pytest.raises(UserError, match="larger than the code"):
        build("model=ksparse_ae", "model.k=30", "model.latent_dim=20", *SMALL)


def test_the_aae_discriminator_is_fooled_as_training_goes_on_while_reconstruction_holds(compose):
    import pytorch_lightning as pl

    from aelab.train import build_datamodule, build_model, build_trainer

    class EpochStats(pl.Callback):
        def __init__(self) -> None:
            self.accuracy: list[float] = []
            self.recon: list[float] = []

        def record(self, trainer) -> None:
            if "train/disc_accuracy" in trainer.callback_metrics:  # the epoch means, written at each epoch's end
                self.accuracy.append(float(trainer.callback_metrics["train/disc_accuracy"]))
                self.recon.append(float(trainer.callback_metrics["train/recon"]))

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.record(trainer)

        def on_train_end(self, trainer, pl_module) -> None:
            self.record(trainer)

    # A 2-D code: the discriminator judges codes against a 2-D standard normal.
    cfg = compose(
        "data=digits",
        "model=aae",
        "model.latent_dim=2",
        "net.hidden_dims=[64]",
        "trainer.max_epochs=100",
        "+trainer.limit_train_batches=null",
        "callbacks=none",
        fast=False,
        run="aae",
    )
    pl.seed_everything(0, verbose=False)
    datamodule = build_datamodule(cfg.data)
    model = build_model(cfg, datamodule)
    stats = EpochStats()
    trainer = build_trainer(cfg, model, datamodule, [stats], enable_progress_bar=False, limit_val_batches=0)
    trainer.fit(model, datamodule=datamodule)
    early, late = max(stats.accuracy[:10]), sum(stats.accuracy[-5:]) / 5
    assert early > 0.7 and abs(late - 0.5) < 0.12, stats.accuracy  # the discriminator is fooled
    assert stats.recon[-1] < 0.7 * stats.recon[0], stats.recon  # while the codes still reconstruct
