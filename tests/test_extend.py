"""Extending aelab without forking it: a user's own package and configs beside aelab's, through the real commands."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow

FILES = {
    "my_project/__init__.py": '"""A user\'s own project built on aelab."""\n',
    "my_project/models.py": '''
        """A variant of the user's own: the plain autoencoder plus a penalty on the code's squared norm."""

        import torch

        from aelab.models import Autoencoder


        class CodeNormAE(Autoencoder):
            """Reconstruction + code_weight * |z|^2 (per sample, batch mean); codes near N(0, I) to sample from."""

            can_sample = True  # declared once: aelab's sample pictures and the generation analysis follow

            def __init__(self, code_weight: float = 0.01, **kwargs) -> None:
                super().__init__(**kwargs)

            def prior_codes(self, n, generator=None):
                return torch.randn(n, self.latent_dim, generator=generator)

            def step_output(self, x, stage):
                out = super().step_output(x, stage)
                out.terms["code_norm"] = self.hparams.code_weight * out.code.pow(2).sum(1).mean()
                return out
    ''',
    "my_project/data.py": '''
        """Data of the user's own: bright squares at one of four places of an 8x8 image, the place as the label."""

        import torch

        from aelab.data import Arrays, InMemoryDataModule


        def squares(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
            generator = torch.Generator().manual_seed(seed)
            labels = torch.arange(n) % 4
            images = torch.randint(0, 40, (n, 1, 8, 8), generator=generator, dtype=torch.uint8)
            for i, label in enumerate(labels.tolist()):
                row, col = 4 * (label // 2), 4 * (label % 2)
                images[i, 0, row : row + 4, col : col + 4] = 230
            return images, labels


        class SquaresDataModule(InMemoryDataModule):
            """Squares for training and, drawn from another seed, for testing."""

            def __init__(self, *args, size: int = 400, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                self.save_hyperparameters()

            def load(self) -> Arrays:
                return Arrays(*squares(self.hparams.size, 1), *squares(self.hparams.size // 4, 2))
    ''',
    "configs/model/my_ae.yaml": """
        defaults:
          - ae
        _target_: my_project.models.CodeNormAE
        latent_dim: 4
        code_weight: 0.01
    """,
    "configs/data/my_data.yaml": """
        defaults:
          - _image
          - override /loss@_global_.loss: bce
        _target_: my_project.data.SquaresDataModule
        shape: [1, 8, 8]
        batch_size: 32
        size: 400
    """,
}


def write_project(root: Path) -> Path:
    """Write the user's project (a package and a configs folder) under `root`."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def test_a_users_variant_and_data_train_and_evaluate_beside_aelabs(tmp_path):
    project = write_project(tmp_path / "project")
    env = {"PYTHONPATH": str(project)}  # or `pip install -e .` of the user's project
    common = ["--config-dir", str(project / "configs"), "trainer.enable_progress_bar=false", "print_config=false"]
    trained = run_cli(
        "aelab-train",
        *common,
        "model=my_ae",
        "data=my_data",
        "trainer.max_epochs=3",
        "hydra.run.dir=run",
        cwd=project,
        env=env,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads((project / "run" / "metrics.json").read_text())
    assert metrics["test/code_norm"] > 0 and metrics["test/loss"] > metrics["test/recon"]  # the user's term counts
    images = project / "run" / "images"  # aelab's default callbacks drew for the user's model
    for picture in ("reconstruction", "samples", "interpolation", "traversal"):
        assert list(images.glob(f"{picture}_epoch_*.png")), picture

    evaluated = run_cli(
        "aelab-eval",
        "ckpt_path=run/checkpoints/last.ckpt",
        "eval.analyses=all",
        "trainer.enable_progress_bar=false",
        "hydra.run.dir=eval",
        cwd=project,
        env=env,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    analyses = json.loads((project / "eval" / "metrics.json").read_text())
    assert analyses["recon/pca_components"] == 4 and analyses["probe/chance"] == pytest.approx(0.25)
    assert analyses["probe/ae_accuracy"] > 0.9  # the four places are easy to tell apart from a 4-D code
    drawn = {p.name for p in (project / "eval" / "analyses").glob("*.png")}
    assert {"latents.png", "samples.png", "interpolations.png", "reconstruction.png"} <= drawn, drawn
    assert "gen/nll_iwae" not in analyses  # it declared no likelihood, so none is reported


def test_the_python_api_composes_with_a_users_config_folder(tmp_path, data_dir):
    import aelab

    project = write_project(tmp_path / "project")
    cfg = aelab.compose(
        ["model=my_ae", "data=my_data"], output_dir=str(tmp_path / "api"), config_dirs=[str(project / "configs")]
    )
    assert cfg.model._target_ == "my_project.models.CodeNormAE" and cfg.data.size == 400
