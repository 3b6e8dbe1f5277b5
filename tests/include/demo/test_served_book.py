"""The demo book served by the local Salesforce, Zendesk and S3 servers lands as the drop.

Each date of a generated drop is loaded into the servers (``touchline.demo.serve``), then
crm, support and usage are extracted through ``sources.yml`` and the framework, as the
nightly run does, and published. The drop of the same dates is landed beside it. Every
entity's partition of every date must hold the same rows, in any order, after the drop's
rows are put in the form the systems can hold (``as_served``: Zendesk's integer ticket ids,
whole-minute first replies, good/bad ratings, and Salesforce's corporate currency rated 1
for all time). The first date reads everything the servers hold: the book as of that date,
which is what the drop's first folder holds too.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from touchline.config import settings
from touchline.demo.serve import DemoServers, ServedBook, as_served, write_sources_file
from touchline.extract import land_day, stage_family
from touchline.landing import partition_dir, publish_staged
from touchline.schema import FAMILIES

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
            book.serve_day(day)
            for family in SERVED_FAMILIES:
                stage_family(family, day, from_api)
            publish_staged(from_api.landing_dir, day)
    return from_drop, from_api, days, book


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
