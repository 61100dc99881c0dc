"""Console entry points: Hydra's own errors (composition, override syntax, output folder) as one sentence."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException

import aelab.utils.resolvers  # noqa: F401  (the resolvers configs use)
from aelab.internals.hydra import reporting_errors_with
from aelab.utils.extras import missing_extra

PACKAGE = Path(__file__).resolve().parents[1]


def first_line(text: str) -> str:
    """The first non-empty line of a message, without trailing punctuation."""
    return next((line.strip() for line in text.splitlines() if line.strip()), text).rstrip(".")


def raised_by_aelab(error: BaseException) -> bool:
    """Return whether any frame of the error's traceback is aelab code other than this module."""
    tb = error.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(PACKAGE) and path != Path(__file__).resolve():
            return True
        tb = tb.tb_next
    return False


def hydra_error_sentence(error: Exception, command: str) -> str | None:
    """One sentence for an error Hydra raises before or around the task; None for any other error."""
    extra = missing_extra(error)
    if extra is not None:
        return extra
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options:
        group, _, name = error.missing_cfg_file.rpartition("/")
        options = sorted(o for o in error.options if not o.startswith("_"))  # `_image`: shared settings, not options
        return f"There is no {group}={name}: choose one of {', '.join(options)} ({command} --help)."
    if isinstance(error, OverrideParseException):
        return (
            f"Cannot read the override '{error.override}' ({first_line(error.message)}): write key=value, and quote "
            "values with brackets, commas or spaces, e.g. 'net.hidden_dims=[256,128]'."
        )
    ambiguous = re.match(r"Ambiguous value for argument '([^']+)'", str(error))
    if ambiguous:
        return (
            f"{ambiguous.group(1)} lists several values: add -m to sweep over them, write [a,b] for a list, "
            "or quote it for a string."
        )
    unknown = re.match(r"Could not override '([^']+)'", str(error))
    if isinstance(error, ConfigCompositionException) and unknown and "not in struct" in str(error.__cause__):
        key = unknown.group(1)
        return f"There is no setting {key}: check its spelling in `{command} --cfg job`, or add it with +{key}=..."
    if isinstance(error, ConfigCompositionException):
        cause = f" ({first_line(str(error.__cause__))})" if error.__cause__ else ""
        return f"{first_line(str(error))}{cause}; see {command} --help for the groups and options."
    if type(error).__name__ == "FailedJobError" and type(error).__module__.startswith("submitit"):
        reason = first_line(str(error)).removeprefix("sbatch: error: ")
        return (
            f"SLURM refused the sweep's jobs ({reason}): check hydra.launcher.partition, gpus_per_node, "
            "cpus_per_task, mem_gb and timeout_min against what the cluster offers (sinfo -o '%P %c %m %G %l')."
        )
    if isinstance(error, OSError) and error.filename and not raised_by_aelab(error):
        # Hydra creates the run folder and writes .hydra/ and the log there before the task starts.
        reason = (error.strerror or type(error).__name__).lower()
        return (
            f"Cannot write the output folder {error.filename} ({reason}): pass a writable hydra.run.dir=<folder> "
            "(hydra.sweep.dir for -m), or paths.log_dir=<folder>."
        )
    return None


def reporting(run_and_report: Callable[[Callable[[], Any]], Any], command: str) -> Callable[[Callable[[], Any]], Any]:
    """Wrap Hydra's `run_and_report` so that errors it would print over many lines end in one sentence."""

    def report(func: Callable[[], Any]) -> Any:
        def checked() -> Any:
            try:
                return func()
            except Exception as error:
                sentence = None if os.environ.get("HYDRA_FULL_ERROR") == "1" else hydra_error_sentence(error, command)
                if sentence is None:
                    raise
                print(f"Error: {sentence}", file=sys.stderr)
                sys.exit(2)

        return run_and_report(checked)

    return report


def hydra_main(config_path: str, config_name: str, command: str) -> Callable[[Callable], Callable[[], Any]]:
    """`hydra.main` for an aelab command, with Hydra's composition and folder errors as one sentence."""

    def decorate(task: Callable) -> Callable[[], Any]:
        main = hydra.main(version_base="1.3", config_path=config_path, config_name=config_name)(task)

        def entry(*args: Any, **kwargs: Any) -> Any:
            with reporting_errors_with(lambda original: reporting(original, command)):
                return main(*args, **kwargs)

        entry.__doc__ = task.__doc__
        return entry

    return decorate
