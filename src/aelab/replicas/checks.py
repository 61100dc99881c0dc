"""What vectorised replicas can train, and one sentence for what they cannot."""

from __future__ import annotations

from omegaconf import DictConfig

from aelab.utils.errors import require

# Variants whose step keeps state a vectorised step cannot (or steps several optimizers).
UNSUPPORTED_MODELS = {
    "VQVAE": "its codebook is updated in place (moving averages, restarts); train its seeds as a sweep: seed=0,1,2 -m",
    "AdversarialAE": "it steps two optimizers in turn; train its seeds as a sweep: seed=0,1,2 -m",
    "ContractiveAE": "its penalty differentiates the encoder inside the step; train its seeds as a sweep",
}
RECURRENT_NETS = ("LSTM", "GRU", "Recurrent")
ELEMENTWISE_OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad")


def short(target: str) -> str:
    """The class name of a `_target_`."""
    return str(target).rpartition(".")[2]


def check_replicas(cfg: DictConfig) -> list[int]:
    """Return the replicas' seeds; refuse, in one sentence, a setting they cannot train exactly."""
    seeds = list(cfg.seeds)
    require(
        len(seeds) >= 1 and all(isinstance(s, int) for s in seeds),
        f"seeds={seeds} should be a list of whole numbers, e.g. seeds=[0,1,2].",
    )
    require(len(set(seeds)) == len(seeds), f"seeds={seeds} repeats a seed: each replica needs its own.")
    model = short(cfg.model._target_)
    require(
        model not in UNSUPPORTED_MODELS,
        f"model={model} cannot be trained as vectorised replicas: {UNSUPPORTED_MODELS.get(model)}.",
    )
    net = short(cfg.net._target_)
    require(
        net not in RECURRENT_NETS,
        f"net={net.lower()} cannot be vectorised (recurrent layers): use net=mlp, linear, conv or conv1d with "
        "seeds=[...], or train the seeds as a sweep (seed=0,1,2 -m).",
    )
    require(
        not cfg.net.get("dropout"),
        "net.dropout > 0 draws from torch's global generator, which replicas cannot share: set net.dropout=0 "
        "with seeds=[...], or train the seeds as a sweep (seed=0,1,2 -m).",
    )
    require(
        not cfg.net.get("batch_norm") and cfg.net.get("norm", "none") in (None, "none", "layer"),
        "batch norm keeps running statistics in place, which replicas cannot: use net.norm=none or layer "
        "(net.batch_norm=false), or train the seeds as a sweep (seed=0,1,2 -m).",
    )
    optimizer = short(cfg.optimizer._target_)
    require(
        optimizer in ELEMENTWISE_OPTIMIZERS,
        f"optimizer {optimizer} is not elementwise, so it would couple the replicas: use adam, adamw, sgd, "
        "momentum, rmsprop or adagrad with seeds=[...].",
    )
    scheduler = short(cfg.scheduler.get("_target_", "")) if cfg.get("scheduler") else ""
    require(
        scheduler != "ReduceLROnPlateau",
        "scheduler=plateau would need one learning rate per replica: use scheduler=cosine or none with "
        "seeds=[...], or train the seeds as a sweep.",
    )
    require(not cfg.model.get("compile"), "model.compile=true does not apply to replicas: leave it false.")
    require(
        str(cfg.trainer.get("strategy", "auto")) in ("auto", "None", "single_device"),
        "seeds=[...] trains its replicas in one process: drop trainer=ddp (or train the seeds as a sweep).",
    )
    return seeds
