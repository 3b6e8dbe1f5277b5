"""Re-landing a date replaces that date's partition exactly; nothing else changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from touchline.config import settings
from touchline.extract import land_family, land_history
from touchline.schema import FAMILIES


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_date_twice_gives_identical_partitions(tmp_path, small_drop):
    paths = settings().with_overrides(
        source_dir=small_drop.out_dir, landing_dir=tmp_path / "landing"
    )
    first, last = small_drop.dates
    for family in FAMILIES:
        land_family(family, first, paths)
        land_family(family, last, paths)
    before = tree_digest(paths.landing_dir)
    assert any(f"ds={last.isoformat()}" in name for name in before)
    for family in FAMILIES:
        land_family(family, last, paths)
    after = tree_digest(paths.landing_dir)
    assert after == before  # byte-identical, no extra files, other dates untouched


def test_relanding_changed_drop_changes_only_that_date(tmp_path, small_drop):
    import shutil

    drop = tmp_path / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    paths = settings().with_overrides(source_dir=drop, landing_dir=tmp_path / "landing")
    first, last = small_drop.dates
    for day in (first, last):
        land_family("support", day, paths)
    before = tree_digest(paths.landing_dir)
    tickets = drop / last.isoformat() / "tickets.csv"
    lines = tickets.read_text(encoding="utf-8").splitlines(keepends=True)
    tickets.write_text("".join(lines[:-1]), encoding="utf-8")  # one ticket fewer
    land_family("support", last, paths)
    after = tree_digest(paths.landing_dir)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {f"tickets/ds={last.isoformat()}/part-0.parquet"}


def test_history_landed_in_parallel_equals_landing_day_by_day(tmp_path, small_drop):
    import datetime as dt

    first, last = small_drop.dates
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    trees = {}
    for workers in (1, 2):
        paths = settings().with_overrides(
            source_dir=small_drop.out_dir, landing_dir=tmp_path / f"landing-{workers}"
        )
        land_history(paths, days, workers=workers)
        trees[workers] = tree_digest(paths.landing_dir)
    assert len({name.split("/")[1] for name in trees[1] if "/ds=" in name}) == len(days)
    assert trees[2] == trees[1]


def test_a_bad_day_in_parallel_history_landing_names_its_file(tmp_path, small_drop):
    import datetime as dt
    import shutil

    import pytest

    from touchline.sources.filedrop import InputError

    drop = tmp_path / "drop"
    shutil.copytree(small_drop.out_dir, drop)
    first, last = small_drop.dates
    broken = first + dt.timedelta(days=2)
    contracts = drop / broken.isoformat() / "contracts.csv"
    lines = contracts.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[4] = "lots"  # arr_amount
    contracts.write_text(lines[0] + ",".join(fields) + "".join(lines[2:]), encoding="utf-8")
    paths = settings().with_overrides(source_dir=drop, landing_dir=tmp_path / "landing")
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    with pytest.raises(InputError, match=rf"{broken.isoformat()}/contracts\.csv.*arr_amount"):
        land_history(paths, days, workers=2)
