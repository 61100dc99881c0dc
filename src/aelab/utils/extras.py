"""Optional extras (`pip install 'aelab[optuna]'`): which feature needs which; one sentence when one is missing."""

from __future__ import annotations

import importlib.util

# The extra that provides each optional module (prefixes: a module's submodules belong to it too).
MODULES = {
    "optuna": "optuna",
    "sqlalchemy": "optuna",
    "alembic": "optuna",
    "hydra_plugins.hydra_optuna_sweeper": "optuna",
    "submitit": "slurm",
    "hydra_plugins.hydra_submitit_launcher": "slurm",
    "pythae": "bench",
}
# Hydra options that only exist when an extra's plugin is installed: option -> (extra, plugin module).
OPTIONS = {
    "hydra/sweeper/optuna": ("optuna", "hydra_plugins.hydra_optuna_sweeper"),
    "hydra/launcher/submitit_slurm": ("slurm", "hydra_plugins.hydra_submitit_launcher"),
    "hydra/launcher/submitit_local": ("slurm", "hydra_plugins.hydra_submitit_launcher"),
}
FEATURES = {
    "optuna": "the Optuna sweeper (hparams_search=optuna)",
    "slurm": "the submitit launchers (hydra/launcher=slurm, submitit_slurm, submitit_local)",
    "bench": "the pythae comparison benchmark",
}


def missing_sentence(extra: str) -> str:
    """The sentence for a feature whose extra is not installed."""
    return (
        f"aelab's {extra} extra is not installed; it provides {FEATURES[extra]}: pip install 'aelab[{extra}]' "
        "(in a checkout: make install)."
    )


def installed(module: str) -> bool:
    """Return whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module hidden as None in sys.modules
        return False


def extra_of(module: str) -> str | None:
    """Return the extra that provides `module`, or None for a module of no extra."""
    for prefix, extra in MODULES.items():
        if module == prefix or module.startswith(prefix + "."):
            return extra
    return None


def missing_extra(error: BaseException) -> str | None:
    """Return the sentence for an error caused by a missing extra (an import, or an option its plugin adds)."""
    seen = error
    while seen is not None:
        name = getattr(seen, "name", None)
        if isinstance(seen, ImportError) and name and (extra := extra_of(name)) and not installed(name):
            return missing_sentence(extra)
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    for option, (extra, plugin) in OPTIONS.items():
        group, _, name = option.rpartition("/")
        if (option in text or f"{group}={name}" in text) and not installed(plugin):
            return missing_sentence(extra)
    return None
