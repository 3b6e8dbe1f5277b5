"""``touchline preview``: a night built with edited touch-model seeds, on copies, compared
with the published run of that date (docs/reviewing-changes.md).

CS Ops puts edited copies of ``dbt_project/seeds/*.csv`` in a folder. The preview checks
them (known seed names, the shipped columns), then runs the night's own steps on copies in a
temporary work folder:

- the dbt project, with the folder's seeds over the shipped ones;
- the published warehouse (a copy), so the build is the next night's incremental build:
  the run date's rows are computed with the edited seeds and every earlier day keeps the
  values computed on its own night, as when the change ships (``--rebuild-history``:
  an empty warehouse instead, so every day of the history is computed with them);
- the landing, as links to its files (copies across filesystems): only ever read;
- an output folder, where the gate before export writes its report and the day's files
  are written.

``warehouse.build`` (the freshness check, the history catch-up and the one ``dbt build``),
the gate before export with its publish (``pipeline.publish_if_passed``) and the files
(``pipeline.write_worklists``) are the nightly run's own functions, pointed at the copies;
nothing is sent and nothing outside the work folder is written. The files are then
compared with the published run's by ``touchline.changes``, as ``touchline diff`` does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from touchline.changes import Comparison, ReviewError, as_dict, compare, load_run
from touchline.config import Settings

BOM = "\ufeff"
TIER_SEEDS = {"touch_tiers.csv", "tier_rules.csv"}  # their effect waits for the hysteresis
PROJECT_SKIPPED = ("target", "logs", ".user.yml")  # what dbt writes in a project


@dataclass(frozen=True)
class EditedSeed:
    name: str  # the file name, e.g. touch_tiers.csv
    path: Path
    text: str  # as it will be loaded (UTF-8, without a byte-order mark)
    rows_changed: int  # rows of the edited file not in the shipped one
    rows_removed: int  # rows of the shipped file not in the edited one

    def describe(self) -> str:
        if not self.rows_changed and not self.rows_removed:
            return f"{self.name} (the same rows as the shipped seed)"
        return (
            f"{self.name} ({self.rows_changed} row(s) new or edited, "
            f"{self.rows_removed} shipped row(s) gone)"
        )


@dataclass
class PreviewResult:
    comparison: Comparison
    heading: list[str]
    seeds: list[EditedSeed]
    run_date: dt.date
    mode: str  # "next night" or "history rebuilt"
    kept: Path | None = None  # the work folder, when kept
    build: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, csm: list[str] | None = None) -> dict[str, Any]:
        """The comparison as ``touchline diff --format json`` gives it, with the preview's
        seeds and mode; ``after.folder`` is the kept work folder's, else None (removed)."""
        found = as_dict(self.comparison, csm=csm)
        if self.kept is None:
            found["after"]["folder"] = None
        return {
            "preview": {
                "seeds": [
                    {
                        "file": seed.name,
                        "rows_new_or_edited": seed.rows_changed,
                        "shipped_rows_gone": seed.rows_removed,
                    }
                    for seed in self.seeds
                ],
                "mode": self.mode,
                "work_folder": str(self.kept) if self.kept else None,
            },
            **found,
        }


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def check_seeds(seeds_dir: Path, shipped_dir: Path) -> list[EditedSeed]:
    """The edited seeds of ``seeds_dir``, each a known seed with the shipped columns.

    Hidden files (an editor's ``.~lock`` or swap file) are left out; any other file that is
    not a shipped seed's name is an error naming it and the known names.
    """
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise ReviewError(f"--seeds {seeds_dir}: no such folder")
    known = sorted(path.name for path in shipped_dir.glob("*.csv"))
    found = []
    for path in sorted(seeds_dir.iterdir()):
        if path.name.startswith("."):
            continue
        if not path.is_file() or path.name not in known:
            raise ReviewError(
                f"{path} is not a seed of the touch model; the known seeds "
                f"(in {shipped_dir}): {', '.join(known)}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ReviewError(
                f"{path} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
            ) from None
        text = text.removeprefix(BOM)  # spreadsheets' "CSV UTF-8" starts with one
        shipped_rows = _rows((shipped_dir / path.name).read_text(encoding="utf-8"))
        rows = _rows(text)
        if not rows:
            raise ReviewError(f"{path} is empty; the shipped columns: {', '.join(shipped_rows[0])}")
        header, shipped_header = rows[0], shipped_rows[0]
        if header != shipped_header:
            missing = [c for c in shipped_header if c not in header]
            extra = [c for c in header if c not in shipped_header]
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"not in the shipped seed: {', '.join(extra)}")
            if not parts:
                parts.append("the same names in another order")
            raise ReviewError(
                f"{path}: its columns differ from the shipped {path.name} ({'; '.join(parts)}); "
                f"found {', '.join(header)}; expected {', '.join(shipped_header)}"
            )
        edited = {tuple(row) for row in rows[1:] if row}
        shipped = {tuple(row) for row in shipped_rows[1:] if row}
        found.append(
            EditedSeed(path.name, path, text, len(edited - shipped), len(shipped - edited))
        )
    return found


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as ``source``'s files: hard links (nothing copied), copies where links fail
    (another filesystem). The build only reads them."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, symlinks=True)


def _var(dbt_project_dir: Path, name: str, default: Any) -> Any:
    """A var of the dbt project (``dbt_project.yml``), or ``default``."""
    import yaml

    try:
        project = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text("utf-8"))
        return (project.get("vars") or {}).get(name, default)
    except (OSError, yaml.YAMLError, AttributeError):
        return default


def _logs_to_stderr() -> None:
    import logging

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def work_settings(paths: Settings, work: Path) -> Settings:
    """The night's paths, every one that is written inside ``work``."""
    return Settings(
        home=work / "home",
        source_dir=paths.source_dir,  # not read: nothing is extracted
        landing_dir=work / "landing",
        warehouse=work / "warehouse" / paths.warehouse.name,
        output_dir=work / "output",
        dbt_project_dir=work / "dbt_project",
        expectations_dir=paths.expectations_dir,
        sources_file=work / "home" / "sources.yml",
    )


def preview(
    paths: Settings,
    seeds_dir: Path,
    run_date: dt.date | None = None,
    *,
    keep: bool = False,
    work_dir: Path | None = None,
    rebuild_history: bool = False,
) -> PreviewResult:
    """Build ``run_date`` (default: the published one) on copies with the edited seeds and
    compare its files with the published run's; remove the work folder unless ``keep``."""
    from touchline import warehouse
    from touchline.errors import BuildError, GateFailed
    from touchline.progress import step

    shipped_dir = paths.dbt_project_dir / "seeds"
    seeds = check_seeds(seeds_dir, shipped_dir)
    published = warehouse.published_date(paths.warehouse)
    if published is None:
        raise ReviewError(
            f"no published warehouse at {paths.warehouse}: run the nightly pipeline first "
            "(or give --warehouse)"
        )
    run_date = run_date or published
    baseline_dir = paths.output_dir / run_date.isoformat()
    if not (baseline_dir / "worklist.csv").is_file():
        raise ReviewError(
            f"no published run of {run_date} to compare with: {baseline_dir / 'worklist.csv'} "
            "does not exist (give --output-dir, or --date of a published run)"
        )
    if not paths.landing_dir.is_dir():
        raise ReviewError(f"no landing at {paths.landing_dir} to build from")
    before = load_run(baseline_dir)  # read now: the run published when the preview started

    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="touchline-preview-", dir=work_dir))
    copy = work_settings(paths, work)
    mode = "history rebuilt" if rebuild_history else "next night"
    shown = os.path.join(seeds_dir, "")  # the folder as given, with its slash
    try:
        shutil.copytree(
            paths.dbt_project_dir,
            copy.dbt_project_dir,
            ignore=shutil.ignore_patterns(*PROJECT_SKIPPED),
        )
        for seed in seeds:
            (copy.dbt_project_dir / "seeds" / seed.name).write_text(seed.text, encoding="utf-8")
        _link_tree(paths.landing_dir, copy.landing_dir)
        copy.warehouse.parent.mkdir(parents=True)
        copy.home.mkdir(parents=True)
        if not rebuild_history:
            shutil.copyfile(paths.warehouse, copy.warehouse)
        # the nightly steps' module imports Airflow, which writes its home's config and logs
        # folder on import: outside a deployment (no AIRFLOW_HOME), the work folder's
        os.environ.setdefault("AIRFLOW_HOME", str(copy.home / "airflow"))
        from touchline.pipeline import publish_if_passed, write_worklists

        _logs_to_stderr()  # Airflow's logging config writes to stdout, the results' stream
        with step(f"building {run_date} on a copy with the seeds in {shown}", line=False):
            try:
                built = warehouse.build(copy, run_date, publish=False)
                publish_if_passed(copy, run_date)  # the gate, then "publish" into the copy
            except (BuildError, GateFailed) as exc:
                raise ReviewError(
                    f"with the seeds in {shown}, the night of {run_date} would fail and "
                    f"keep the previous work lists:\n{exc}"
                    + ("" if keep else "\n(--keep keeps the work folder for inspection)")
                ) from None
            write_worklists(copy, run_date)
        print(f"built {run_date} on a copy in {built.seconds:.1f} s", file=sys.stderr)
        after = load_run(copy.output_dir / run_date.isoformat())
    except BaseException:
        if keep:
            print(f"touchline preview: kept the work folder {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        raise
    comparison = compare(before, after)
    edited = ", ".join(seed.describe() for seed in seeds) or "none (the shipped model)"
    how = (
        "every day of the history recomputed with the edited seeds"
        if rebuild_history
        else f"{run_date} recomputed with the edited seeds, the days before as published"
    )
    heading = [
        f"touchline preview: {run_date} built with the seeds in {shown}, against the published "
        f"run ({baseline_dir})",
        f"Edited seeds: {edited}",
        f"Built on a copy: {how}; nothing was published or sent.",
    ]
    if not rebuild_history and {seed.name for seed in seeds} & TIER_SEEDS:
        heading.append(
            "Tiers move down only after "
            f"{_var(paths.dbt_project_dir, 'tier_downgrade_days', 30)} days below their line "
            "(hysteresis), so a lower-touch tier shows then; --rebuild-history shows where the "
            "tiers settle."
        )
    if keep:
        heading.append(
            f"Work folder kept: {work} (warehouse/, output/{run_date}/, dbt_project/ with the "
            "edited seeds)"
        )
    else:
        shutil.rmtree(work, ignore_errors=True)
    return PreviewResult(
        comparison,
        heading,
        seeds,
        run_date,
        mode,
        kept=work if keep else None,
        build=built.as_dict(),
    )
