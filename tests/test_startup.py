"""`evals --help` and `evals runs` must start fast: the CLI and the API import only click, the
config layer and the store. The heavy libraries load with the command that uses them.

Checked by module name, never by time (python -X importtime lists every module a fresh
interpreter imports, whatever the machine's load)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# The SDKs, the numeric and data stack and the chart library: seconds of start-up together.
HEAVY = {"openai", "anthropic", "httpx", "httpx2", "aiohttp", "scipy", "numpy", "pandas", "pyarrow", "datasets", "matplotlib"}


def imported_modules(*args: str) -> tuple[set[str], str]:
    """Modules a fresh interpreter imports running `python -X importtime ARGS`, and its stdout."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, check=True)
    # each line: "import time:   self [us] | cumulative | module.name" (the name indented by depth)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:") and line.count("|") == 2]
    return {line.rsplit("|", 1)[1].strip() for line in lines}, proc.stdout


def imported_packages(statement: str) -> set[str]:
    """Top-level packages a fresh interpreter imports for `statement`."""
    return {name.split(".")[0] for name in imported_modules("-c", statement)[0]}


@pytest.mark.parametrize(("module", "needed"), [("evals.cli", "click"), ("evals.api", "pydantic")])
def test_cli_and_api_import_no_heavy_library(module: str, needed: str) -> None:
    names = imported_packages(f"import {module}")
    assert needed in names  # the parser does see module names
    assert names & HEAVY == set()


def test_light_submodules_of_heavy_packages_stay_light() -> None:
    """A package __init__ runs for every one of its modules; eager re-exports would load the SDKs here."""
    assert imported_packages("import evals.measure.model, evals.traffic.options, evals.sim.behaviour") & HEAVY == set()


def test_lazy_reexports_resolve_to_the_defining_module() -> None:
    import evals.measure
    import evals.sim
    from evals.measure.frontier import measure
    from evals.sim.server import SimServer

    assert evals.measure.measure is measure
    assert evals.sim.SimServer is SimServer
    with pytest.raises(AttributeError, match="evals.sim.*no_such_name"):
        evals.sim.no_such_name  # noqa: B018


def test_help_lists_every_command_without_importing_them() -> None:
    """--help is answered before any command body runs: no command's imports are needed for it."""
    modules, help_text = imported_modules("-m", "evals.cli", "--help")
    for command in ("run", "score", "report", "runs", "import", "measure", "gate", "nightly"):
        assert f"\n  {command} " in help_text
    assert "click" in modules
    assert modules & {"evals.api", "evals.config", "pydantic"} == set()
