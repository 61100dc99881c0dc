"""aelab: an autoencoder research template on PyTorch Lightning and Hydra.

Python API::

    import aelab
    cfg = aelab.compose(["model=ae", "net=conv"], output_dir="logs/api_run")
    metrics = aelab.train(cfg)
    model = aelab.load_model("logs/api_run/checkpoints/last.ckpt")
    x_hat = model.decode(model.encode(x))
"""

from __future__ import annotations

# Imported eagerly so that `aelab.train` is the function, not the submodule of the same name
# (train.py imports only Hydra at module level, so this stays cheap).
from aelab.train import train

__version__ = "0.1.0"
__all__ = ["compose", "load_model", "train"]


def compose(
    overrides: list[str] | None = None,
    output_dir: str = "logs/api",
    config_name: str = "train",
    config_dirs: list[str] | None = None,
):
    """Compose a run config as the command line would, with its outputs in `output_dir`.

    `config_dirs` are your own config folders (e.g. `configs/model/my_ae.yaml`), searched beside aelab's as
    `aelab-train --config-dir` searches them.
    """
    from pathlib import Path

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    configs = Path(__file__).resolve().parent / "configs"
    overrides = [*(overrides or []), f"hydra.run.dir={Path(output_dir).resolve()}"]
    if config_dirs:
        paths = ",".join(f"file://{Path(d).resolve()}" for d in config_dirs)
        overrides.append(f"hydra.searchpath=[{paths}]")
    with initialize_config_dir(str(configs), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(Path(output_dir).resolve())
        cfg.hydra.runtime.cwd = str(Path.cwd())
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: Hydra's own settings live in HydraConfig
    return cfg


def load_model(path: str, map_location: str = "cpu"):
    """Load a trained autoencoder from an aelab checkpoint."""
    from aelab.checkpoint import load_model as load

    return load(path, map_location=map_location)
