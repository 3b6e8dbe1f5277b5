"""The demo book served by the local Salesforce, Zendesk and S3 servers lands as the drop.

Each date of a generated drop is loaded into the servers (``touchline.demo.serve``), then
crm, support and usage are extracted through ``sources.yml`` and the framework, as the
nightly run does, and published. The drop of the same dates is landed beside it. Every
entity's partition of every date must hold the same rows, in any order, after the drop's
rows are put in the form the systems can hold (``as_served``: Zendesk's integer ticket ids,
whole-minute first replies, good/bad ratings, and Salesforce's corporate currency rated 1
for all time). The first date reads everything the servers hold: the book as of that date,
which is what the drop's first folder holds too.

The copy of the drop ``write_served_drop`` writes is that book as files: landed from the file
drop, it gives exactly the rows the served book lands, entity for entity and date by date.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from touchline.config import settings
from touchline.demo.serve import (
    DemoServers,
    ServedBook,
    as_served,
    land_served_day,
    served_families,
    write_served_drop,
    write_sources_file,
)
from touchline.extract import land_day
from touchline.landing import partition_dir
from touchline.schema import ALL_ENTITIES, FAMILIES

SERVED_FAMILIES = ("crm", "support", "usage")


@pytest.fixture(scope="module")
def landed(small_drop, tmp_path_factory):
    """The small drop landed from the file drop and from the servers, date by date."""
    work = tmp_path_factory.mktemp("served-book")
    from_drop = settings().with_overrides(
        source_dir=small_drop.out_dir, landing_dir=work / "drop-landing"
    )
    from_api = settings().with_overrides(
        source_dir=small_drop.out_dir,
        landing_dir=work / "api-landing",
        sources_file=write_sources_file(work / "sources.yml"),
    )
    dates = sorted(p.name for p in small_drop.out_dir.iterdir() if p.is_dir())
    days = [small_drop.dates[0].fromisoformat(d) for d in dates]
    with pytest.MonkeyPatch.context() as patch, DemoServers() as servers:
        for name, value in servers.environment().items():
            patch.setenv(name, value)
        book = ServedBook(servers, small_drop.out_dir)
        for day in days:
            land_day(from_drop, day)
            land_served_day(book, from_api, day)
    return from_drop, from_api, days, book


@pytest.fixture(scope="module")
def served_drop_landed(small_drop, tmp_path_factory, landed):
    """The copy of the small drop as the systems hold it, landed from the file drop."""
    _, _, days, _ = landed
    work = tmp_path_factory.mktemp("served-drop")
    paths = settings().with_overrides(
        source_dir=write_served_drop(small_drop.out_dir, work / "drop"),
        landing_dir=work / "landing",
    )
    for day in days:
        land_day(paths, day)
    return paths


def _rows(paths, entity: str, day) -> list[dict]:
    return pq.read_table(partition_dir(paths.landing_dir, entity, day)).to_pylist()


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: repr(sorted(row.items())))


@pytest.mark.parametrize(
    "entity", [name for family in SERVED_FAMILIES for name in FAMILIES[family]]
)
def test_every_served_entity_lands_the_drops_rows_on_every_date(landed, entity):
    from_drop, from_api, days, book = landed
    for day in days:
        expected = _sorted(as_served(entity, _rows(from_drop, entity, day), book))
        actual = _sorted(_rows(from_api, entity, day))
        assert len(actual) == len(expected), f"{entity} on {day}: row counts differ"
        for want, got in zip(expected, actual, strict=True):
            assert got == want, f"{entity} on {day}: served and dropped rows differ"


def test_the_served_book_changes_between_dates(landed):
    """Guard against a vacuous comparison: records change, appear and go between dates."""
    from_drop, _, days, _ = landed
    first, last = days[0], days[-1]
    for entity in ("accounts", "contacts", "contracts"):
        assert _rows(from_drop, entity, first) != _rows(from_drop, entity, last)
    assert sum(len(_rows(from_drop, "tickets", day)) for day in days[1:]) > 0
    assert all(_rows(from_drop, "usage_events", day) for day in days)


def test_the_demo_serves_crm_support_and_usage():
    assert served_families() == SERVED_FAMILIES


def test_a_served_day_lands_every_entity_the_drop_lands(landed):
    """Engagement and the empty CRM read-back come from the drop beside the served families."""
    from_drop, from_api, days, _ = landed
    for day in days:
        for entity in ALL_ENTITIES:
            assert partition_dir(from_api.landing_dir, entity.name, day).is_dir(), (
                f"{entity.name} on {day}: not landed by land_served_day"
            )
    for entity in FAMILIES["engagement"]:
        for day in days:
            assert _rows(from_api, entity, day) == _rows(from_drop, entity, day), entity


@pytest.mark.parametrize("entity", [entity.name for entity in ALL_ENTITIES])
def test_the_served_drop_lands_the_served_books_rows(landed, served_drop_landed, entity):
    _, from_api, days, _ = landed
    for day in days:
        expected = _sorted(_rows(from_api, entity, day))
        actual = _sorted(_rows(served_drop_landed, entity, day))
        assert len(actual) == len(expected), f"{entity} on {day}: row counts differ"
        for want, got in zip(expected, actual, strict=True):
            assert got == want, f"{entity} on {day}: the served drop and the served book differ"
