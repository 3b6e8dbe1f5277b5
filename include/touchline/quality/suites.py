"""What the suites in ``expectations/`` are given, and how they are loaded.

The suites are code: ``expectations/landed.py`` builds one suite per landed entity and
``expectations/marts.py`` the suites on the marts, both with Great Expectations'
expectation classes. ``expectations/thresholds.yml`` holds their numbers. The folder is
read at run time (``TOUCHLINE_EXPECTATIONS_DIR``), so a deployment can change a threshold
or add an expectation without a new build of the package.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from touchline.errors import SuiteError
from touchline.schema import Entity

SUITE_MODULES = ("landed", "marts")


def fail(expectation):
    """A failing ``expectation`` stops the run at its gate."""
    expectation.severity = "critical"
    return expectation


def warn(expectation):
    """A failing ``expectation`` is recorded in the report; the run goes on."""
    expectation.severity = "warning"
    return expectation


def quarantine(expectation):
    """A row failing ``expectation`` is held back from the landing; the other rows land.

    Severity warn: the night goes on. The rows go to ``quality/<D>/quarantine/<entity>.csv``
    with their file, line and reason. For row-level expectations of the rows frame.
    """
    expectation.severity = "warning"
    expectation.meta = {**(expectation.meta or {}), "quarantine": True}
    return expectation


@dataclass(frozen=True)
class Baseline:
    """The earlier partition a batch's volume is compared with."""

    ds: dt.date
    rows: int


@dataclass(frozen=True)
class LoadContext:
    """What a landed batch's suites may depend on."""

    entity: Entity
    run_date: dt.date
    thresholds: dict[str, Any]
    baseline: Baseline | None
    checks_accounts: bool  # the batch has a known_account_id column to judge
    # currencies with an fx_rates row on or before the run date (None: no rates to judge by)
    rated_currencies: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ExportContext:
    """What the marts' suites may depend on."""

    run_date: dt.date
    thresholds: dict[str, Any]
    touchpoint_codes: tuple[str, ...]


@dataclass(frozen=True)
class Suites:
    landed: ModuleType
    marts: ModuleType
    thresholds: dict[str, Any]


def _import(path: Path) -> ModuleType:
    name = f"touchline_expectations_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SuiteError(f"cannot load the suite module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise SuiteError(f"the suite module {path} does not load: {exc}") from exc
    return module


def load(expectations_dir: Path) -> Suites:
    folder = Path(expectations_dir)
    thresholds_file = folder / "thresholds.yml"
    missing = [
        p for p in [thresholds_file, *(folder / f"{m}.py" for m in SUITE_MODULES)] if not p.exists()
    ]
    if missing:
        raise SuiteError(
            "the expectations folder is incomplete: missing " + ", ".join(str(p) for p in missing)
        )
    try:
        thresholds = yaml.safe_load(thresholds_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SuiteError(f"{thresholds_file} is not valid YAML: {exc}") from exc
    from touchline.quality.engine import start_great_expectations

    start_great_expectations()  # the suite modules import it
    return Suites(
        landed=_import(folder / "landed.py"),
        marts=_import(folder / "marts.py"),
        thresholds=thresholds,
    )
