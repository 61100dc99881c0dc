"""Run every benchmark in its own process (one thread) and write BENCHMARKS.md: the machine, versions, tables, JSON.

    python benchmarks/run_all.py [--quick] [--only startup memory] [--output BENCHMARKS.md]

A benchmark is any script in this folder with a `__main__` block. Each prints one JSON object; its numbers go
into a table (ratios beside their targets, marked met or missed) and the JSON into a collapsed block. A script
that fails or times out does not stop the others: its error is written down and this script exits non-zero.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Options of the full `make bench`; a script not named here runs with its defaults. The whole run takes about
# 12 minutes on 2 cores, ecg5000 (3 seeds x 4 nets) the longest at about 4, besides replicas (see TIMEOUTS).
FULL = {
    "sweep_launchers": ["--repeats", "3"],  # one sweep per launcher is too few for a ratio on a shared machine
    # The case with targets and the study; all three cases take over 40 minutes on a loaded 2-core machine.
    "replicas": ["--cases", "tiny_mlp_digits"],
}
# Seconds a script may take beyond --timeout's default: replicas times 5 sizes x 2 rounds and two 8-seed
# studies of whole processes.
TIMEOUTS = {"replicas": 1800}
# With --quick, scripts with a --quick flag get it; these have none, so they get short settings instead.
QUICK = {
    "ecg5000": ["--seeds", "0", "--nets", "mlp", "--held-out"],
    "sweep_launchers": ["--epochs", "1"],
}
PACKAGES = ("torch", "pytorch-lightning", "hydra-core", "torchvision", "numpy")


def benchmarks() -> list[Path]:
    """Every script in this folder with a `__main__` block, except this one."""
    return sorted(p for p in HERE.glob("*.py") if p != Path(__file__).resolve() and "__main__" in p.read_text())


def options(script: Path, quick: bool) -> list[str]:
    """The command-line options `script` runs with."""
    if not quick:
        return FULL.get(script.stem, [])
    return ["--quick"] if '"--quick"' in script.read_text() else QUICK.get(script.stem, [])


def last_json(stdout: str) -> dict:
    """The JSON object a script printed last (progress bars or log lines may come before it)."""
    decoder = json.JSONDecoder()
    starts = [i for i in range(len(stdout)) if stdout[i] == "{" and (i == 0 or stdout[i - 1] == "\n")]
    for start in reversed(starts):
        try:
            value, end = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and not stdout[end:].strip():
            return value
    raise ValueError("it printed no JSON object at the end of its output")


def run(script: Path, args: list[str], timeout: float) -> dict:
    """Run one benchmark; return its JSON (or its error), wall time and command."""
    command = [sys.executable, str(script), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    outcome: dict = {"command": " ".join([f"python benchmarks/{script.name}", *args])}
    try:
        result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            outcome["error"] = f"exit code {result.returncode}:\n{result.stderr.strip()[-2000:]}"
        else:
            outcome["json"] = last_json(result.stdout)
    except subprocess.TimeoutExpired:
        outcome["error"] = f"timed out after {timeout:.0f} s"
    except ValueError as error:
        outcome["error"] = str(error)
    outcome["seconds"] = round(time.perf_counter() - start, 1)
    return outcome


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    """Total memory in GiB."""
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)


def git_commit() -> str:
    """aelab's commit, marked `+changes` when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}+changes" if git("status", "--porcelain", "--untracked-files=no") else commit


def version(package: str) -> str:
    """An installed package's version, or `-`."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def cell(value) -> str:
    """One table cell: booleans as met/missed, long lists left to the raw JSON."""
    if isinstance(value, bool):
        return "met" if value else "**missed**"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) <= 60 else "(see JSON)"
    return "-" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def flatten(value, prefix: str = "") -> dict:
    """Nested dicts as one level of dotted keys."""
    if not isinstance(value, dict):
        return {prefix: value}
    out = {}
    for key, inner in value.items():
        out |= flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    return out


def targets(value, path: str = "") -> list[list]:
    """Rows (where, measured, target, met): every `x` beside a numeric `target_x`, and every dict with a `met`."""
    rows = []
    if isinstance(value, dict):
        if isinstance(value.get("met"), bool):
            ratio = "ratio" if "ratio" in value else next((k for k in value if k.endswith("_ratio")), None)
            rows.append([f"{path}{ratio or 'met'}", value.get(ratio), value.get("target"), value["met"]])
        for key, inner in value.items():
            target = value.get(f"target_{key}")
            if isinstance(inner, (int, float)) and isinstance(target, (int, float)) and not isinstance(inner, bool):
                rows.append([f"{path}{key}", inner, target, inner >= target])
            rows += targets(inner, f"{path}{key}.")
    return rows


def overhead_table(data: dict) -> list[str]:
    """overhead.py: steps per second of each contender and aelab's ratio to the plain loop against its target."""
    header = [
        "case",
        "steps/epoch",
        "plain steps/s",
        "aelab steps/s",
        "bare Lightning steps/s",
        "aelab ratio",
        "target",
        "bare Lightning ratio",
        "met",
    ]
    rows = [
        [
            name,
            r.get("steps_per_epoch"),
            r.get("plain_steps_per_s"),
            r.get("aelab_steps_per_s"),
            r.get("lightning_bare_steps_per_s"),
            r.get("aelab_ratio"),
            r.get("target"),
            r.get("lightning_bare_ratio"),
            r.get("met"),
        ]
        for name, r in data["results"].items()
    ]
    return [f"Ratio: {data.get('ratio', 'plain / aelab seconds per epoch')}.", "", *table(header, rows)]


def pythae_table(data: dict) -> list[str]:
    """pythae_vae.py: seconds per epoch and test loss of aelab and pythae, the ratio against its target."""
    header = [
        "data",
        "steps/epoch",
        "aelab s/epoch",
        "pythae s/epoch",
        "ratio",
        "aelab test loss",
        "pythae test loss",
        "target",
        "met",
    ]
    rows = [
        [
            name,
            r.get("steps_per_epoch"),
            r.get("aelab_s_per_epoch"),
            r.get("pythae_s_per_epoch"),
            r.get("ratio"),
            r.get("aelab_test_loss"),
            r.get("pythae_test_loss"),
            r.get("target"),
            r.get("met"),
        ]
        for name, r in data["results"].items()
    ]
    return [f"Ratio: {data.get('ratio', 'pythae / aelab seconds per epoch')}.", "", *table(header, rows)]


READABLE = {"overhead": overhead_table, "pythae_vae": pythae_table}


def numbers_table(name: str, data: dict) -> list[str]:
    """The script's own readable table when it has one (falling back if its JSON changed), else every value."""
    if "skipped" in data:
        return [f"Skipped: {data['skipped']}"]
    if name in READABLE:
        try:
            return READABLE[name](data)
        except (KeyError, TypeError, AttributeError):
            pass  # the JSON changed shape: the generic table still shows every number
    rows = [[key, value] for key, value in flatten(data).items() if key != "benchmark"]
    return table(["key", "value"], rows)


def section(script: Path, outcome: dict) -> list[str]:
    """The Markdown section of one benchmark."""
    summary = script.read_text().split('"""')[1].strip().splitlines()[0] if '"""' in script.read_text() else ""
    lines = [f"## {script.stem}", "", summary, "", f"`{outcome['command']}` — {outcome['seconds']} s", ""]
    if "error" in outcome:
        return [*lines, "**Failed:**", "", "```", outcome["error"], "```", ""]
    data = outcome["json"]
    lines += [*numbers_table(script.stem, data), ""]
    met = targets(data)
    if met and script.stem not in READABLE:  # a readable table already sets ratios beside their targets
        lines += ["Targets:", "", *table(["measured", "value", "target", "met"], met), ""]
    raw = json.dumps(data, indent=2)
    return [*lines, "<details><summary>raw JSON</summary>", "", "```json", raw, "```", "", "</details>", ""]


def report(outcomes: dict[Path, dict], seconds: float, quick: bool) -> str:
    """The whole of BENCHMARKS.md."""
    machine = [[cpu_model(), os.cpu_count(), ram_gib(), platform.platform()]]
    versions = [[platform.python_version(), *(version(p) for p in PACKAGES), git_commit()]]
    summary = []
    for script, outcome in outcomes.items():
        rows = targets(outcome.get("json", {}))
        status = "failed" if "error" in outcome else "skipped" if "skipped" in outcome.get("json", {}) else "ok"
        summary.append(
            [script.stem, status, outcome["seconds"], f"{sum(r[3] for r in rows)} of {len(rows)}" if rows else "-"]
        )
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/run_all.py{' --quick' if quick else ''}`) on "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; total wall time "
        f"{seconds / 60:.1f} min. Every benchmark ran in its own process with OMP_NUM_THREADS=1.",
        "" if not quick else "\n**Quick mode: smoke runs, not measurements.**\n",
        "## Machine",
        "",
        *table(["CPU", "cores", "RAM (GiB)", "platform"], machine),
        "",
        "## Versions",
        "",
        *table(["python", *PACKAGES, "aelab commit"], versions),
        "",
        "## Summary",
        "",
        *table(["benchmark", "status", "wall s", "targets met"], summary),
        "",
    ]
    for script, outcome in outcomes.items():
        lines += section(script, outcome)
    return "\n".join(lines)


def previous_outcomes(path: Path) -> dict[Path, dict]:
    """The outcomes recorded in an existing report (its command, seconds and JSON per benchmark), by script."""
    text = path.read_text() if path.is_file() else ""
    found = {}
    for chunk in text.split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        command = re.search(r"^`(.*?)` — ([\d.]+) s$", chunk, re.M)
        raw = re.search(r"```json\n(.*?)\n```", chunk, re.S)
        if (HERE / f"{name}.py").is_file() and command and raw:
            found[HERE / f"{name}.py"] = {
                "command": command.group(1),
                "seconds": float(command.group(2)),
                "json": json.loads(raw.group(1)),
            }
    return found


def main() -> None:
    """Run the benchmarks, write the report, exit non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke runs of every benchmark (a few minutes)")
    parser.add_argument("--only", nargs="+", help="script names to run (e.g. startup memory)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds one benchmark may take (TIMEOUTS gives some more)"
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    scripts = [s for s in benchmarks() if not args.only or s.stem in args.only]
    start = time.perf_counter()
    # With --only, the other benchmarks keep the outcomes the report already holds.
    kept = previous_outcomes(args.output) if args.only else {}
    outcomes = {s: kept[s] for s in benchmarks() if s in kept and s not in scripts}
    for script in scripts:
        print(f"{script.name} ...", end=" ", file=sys.stderr, flush=True)
        outcomes[script] = run(script, options(script, args.quick), max(args.timeout, TIMEOUTS.get(script.stem, 0)))
        print("failed" if "error" in outcomes[script] else f"{outcomes[script]['seconds']} s", file=sys.stderr)
    outcomes = {s: outcomes[s] for s in benchmarks() if s in outcomes}  # in the folder's order
    args.output.write_text(report(outcomes, time.perf_counter() - start, args.quick))
    failed = [s.stem for s, o in outcomes.items() if "error" in o]
    print(f"Wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
