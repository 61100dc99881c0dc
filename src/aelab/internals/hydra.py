"""Hydra's private error reporting, wrapped so that composition and override errors end in one sentence.

Hydra reports every error raised while it composes the config or runs the task through the module-level
function `hydra._internal.utils.run_and_report`, which prints a multi-line message and exits. There is no
public hook for these errors (they happen before the task is called), so aelab swaps that function for the
duration of one command. Breaks if Hydra renames the function or stops looking it up at call time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hydra._internal import utils as hydra_utils

Reporter = Callable[[Callable[[], Any]], Any]


@contextlib.contextmanager
def reporting_errors_with(wrap: Callable[[Reporter], Reporter]) -> Iterator[None]:
    """Make Hydra report errors through `wrap(run_and_report)` inside the block."""
    original = hydra_utils.run_and_report
    hydra_utils.run_and_report = wrap(original)
    try:
        yield
    finally:
        hydra_utils.run_and_report = original
