"""The docs tell the truth: every figure in README.md is a copy of a generated file, and none is stale."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import CONFIGS, REPO

# 0.57, 1.006: a measured figure; not a version (2.14.1, "< 1.20", "Python 3.12", "SLURM 22.05").
FIGURE = re.compile(r"(?<![\w.])(?<!< )(?<!Python )(?<!SLURM )\d+\.\d{2,}(?![\w.])")


def test_the_generated_tables_in_the_readme_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "readme_sync.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_figure_in_the_readme_stands_in_a_generated_file_or_a_config():
    readme = (REPO / "README.md").read_text()
    prose = re.sub(r"<!-- (results/\S+) .*?<!-- end \1 -->", "", readme, flags=re.S)  # copied tables
    prose = re.sub(r"```.*?```", "", prose, flags=re.S)  # commands
    sources = [
        REPO / "BENCHMARKS.md",
        REPO / "REPRODUCTION.md",
        *(REPO / "results").glob("*"),
        *CONFIGS.rglob("*.yaml"),
    ]
    generated = "".join(p.read_text(errors="ignore") for p in sources if p.is_file())
    loose = sorted({n for n in FIGURE.findall(prose) if n not in generated})
    assert not loose, f"README figures that no generated file or config holds: {loose}"
