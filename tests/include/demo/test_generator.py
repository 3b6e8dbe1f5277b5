"""The demo data generator writes a valid, reproducible, realistic drop (docs/input-layout.md)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from touchline import schema
from touchline.demo.book import GROWING, build_book
from touchline.demo.generator import DEFAULT_END_DATE, DemoSummary, generate

SMALL = {"accounts": 150, "days": 10, "seed": 7}
REALISTIC = {"accounts": 600, "days": 30, "seed": 42}


# helpers -------------------------------------------------------------------------------


def entity_file(folder: Path, name: str) -> Path:
    if name == "usage_events":
        for suffix in ("csv.gz", "csv", "parquet"):
            path = folder / f"usage_events.{suffix}"
            if path.exists():
                return path
        raise FileNotFoundError(folder / "usage_events.*")
    return folder / f"{name}.csv"


def read_entity(folder: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of one entity on one date, read the way a strict consumer would."""
    path = entity_file(folder, name)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        rows = table.to_pylist()
        for row in rows:
            stamp = row["occurred_at"]
            row["occurred_at"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        return table.column_names, rows
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True)
    header = next(reader)
    rows = [dict(zip(header, values, strict=True)) for values in reader]
    return header, rows


def date_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def parse_timestamp(text: str) -> datetime:
    assert text.endswith("Z"), f"timestamp {text!r} is not UTC with a Z"
    return datetime.fromisoformat(text)


def check_value(column: schema.Column, value: str, where: str) -> None:
    if value == "":
        assert not column.required, f"{where}: required {column.name} is empty"
        return
    if column.type is schema.Type.ENUM:
        assert value in column.values, f"{where}: {column.name}={value!r} not in {column.values}"
    elif column.type is schema.Type.BOOLEAN:
        assert value in schema.BOOLEAN_VALUES, f"{where}: {column.name}={value!r}"
    elif column.type is schema.Type.DATE:
        assert date.fromisoformat(value).isoformat() == value, f"{where}: {column.name}={value!r}"
    elif column.type is schema.Type.TIMESTAMP:
        parse_timestamp(value)
    elif column.type in (schema.Type.INTEGER, schema.Type.DECIMAL):
        number = int(value) if column.type is schema.Type.INTEGER else float(value)
        if column.min_value is not None:
            assert number >= column.min_value, f"{where}: {column.name}={value!r}"
        if column.max_value is not None:
            assert number <= column.max_value, f"{where}: {column.name}={value!r}"


def arr_usd_by_account(folder: Path, run_date: date) -> dict[str, float]:
    """ARR: the sum of active contracts, at the latest rate on or before the run date."""
    _, rates = read_entity(folder, "fx_rates")
    latest: dict[str, tuple[str, float]] = {}
    for row in rates:
        if row["as_of_date"] <= run_date.isoformat():
            best = latest.get(row["currency"])
            if best is None or row["as_of_date"] > best[0]:
                latest[row["currency"]] = (row["as_of_date"], float(row["rate_to_usd"]))
    arr: dict[str, float] = defaultdict(float)
    for row in read_entity(folder, "contracts")[1]:
        if row["status"] == "active":
            arr[row["account_id"]] += float(row["arr_amount"]) * latest[row["currency"]][1]
    return arr


def tier_of(account: dict[str, str], arr: float) -> str:
    if account["plan"] in ("free", "trial"):
        return "tech"
    flagged = account["is_strategic"] == "true" or account["implementation_complexity"] == "complex"
    if arr >= 100_000 or flagged:
        return "high"
    if arr >= 25_000:
        return "medium"
    if arr >= 5_000:
        return "low"
    return "tech"


# fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, DemoSummary]:
    root = tmp_path_factory.mktemp("small")
    return root, generate(root, **SMALL)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory) -> tuple[Path, DemoSummary]:
    root = tmp_path_factory.mktemp("realistic")
    return root, generate(root, **REALISTIC, usage_format="csv")


# determinism ---------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(small, tmp_path):
    root, _ = small
    again = generate(tmp_path / "again", **SMALL)
    assert tree_digest(root) == tree_digest(again.out_dir)


def test_different_seed_gives_different_files(small, tmp_path):
    root, _ = small
    other = generate(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    first, second = tree_digest(root), tree_digest(other.out_dir)
    assert first.keys() == second.keys()
    changed = [name for name in first if first[name] != second[name]]
    assert any(name.endswith("accounts.csv") for name in changed)
    assert any("usage_events" in name for name in changed)


# format --------------------------------------------------------------------------------


def test_one_folder_per_date_with_every_entity(small):
    root, summary = small
    end = DEFAULT_END_DATE
    expected_dates = [end - timedelta(days=k) for k in range(SMALL["days"] - 1, -1, -1)]
    assert [p.name for p in date_folders(root)] == [d.isoformat() for d in expected_dates]
    assert summary.dates == (expected_dates[0], expected_dates[-1])
    expected_files = sorted(
        f"{e.name}.csv.gz" if e.name == "usage_events" else f"{e.name}.csv" for e in schema.ENTITIES
    )
    for folder in date_folders(root):
        assert sorted(p.name for p in folder.iterdir()) == expected_files


def test_every_file_follows_the_schema(small):
    root, _ = small
    for folder in date_folders(root):
        for entity in schema.ENTITIES:
            header, rows = read_entity(folder, entity.name)
            where = f"{folder.name}/{entity.name}"
            assert header == entity.column_names, f"{where}: header {header}"
            keys = [tuple(row[k] for k in entity.key) for row in rows]
            duplicates = [k for k, count in Counter(keys).items() if count > 1]
            assert not duplicates, f"{where}: duplicate keys {duplicates[:3]}"
            for line, row in enumerate(rows, start=2):
                for column in entity.columns:
                    check_value(column, row[column.name], f"{where} line {line}")


def test_files_are_utf8_with_rfc4180_quoting_and_newline_endings(small):
    root, _ = small
    raw = (date_folders(root)[-1] / "accounts.csv").read_bytes()
    text = raw.decode("utf-8")
    assert "\r" not in text
    assert text.startswith(",".join(schema.entity("accounts").column_names) + "\n")
    names = [row["account_name"] for row in read_entity(date_folders(root)[-1], "accounts")[1]]
    assert '"Smith, Jones & Partners"' in text  # a comma forces quotes
    assert '"The ""Good Coffee"" Company"' in text  # quotes are doubled
    assert "Müller Präzisionstechnik GmbH" in names
    assert any(name.startswith("=") for name in names)
    assert any(name.startswith("@") for name in names)


def test_event_records_land_on_their_own_day(small):
    root, _ = small
    stamp_of = {
        "usage_events": "occurred_at",
        "tickets": "updated_at",
        "nps_responses": "responded_at",
        "activities": "occurred_at",
    }
    for folder in date_folders(root):
        for name, column in stamp_of.items():
            for row in read_entity(folder, name)[1]:
                assert row[column][:10] == folder.name, f"{folder.name}/{name}: {row}"
        for row in read_entity(folder, "churn_events")[1]:
            assert row["churned_on"] == folder.name


def test_references_resolve_within_each_date(small):
    root, _ = small
    for folder in date_folders(root):
        accounts = {row["account_id"] for row in read_entity(folder, "accounts")[1]}
        csms = {row["csm_email"] for row in read_entity(folder, "csms")[1]}
        contacts = {row["contact_id"] for row in read_entity(folder, "contacts")[1]}
        for entity in schema.ENTITIES:
            if "account_id" in entity.by_name and entity.name != "accounts":
                missing = {r["account_id"] for r in read_entity(folder, entity.name)[1]} - accounts
                assert not missing, f"{folder.name}/{entity.name}: unknown accounts {missing}"
        for name, column in (
            ("accounts", "csm_email"),
            ("activities", "csm_email"),
            ("snoozes", "created_by"),
        ):
            used = {r[column] for r in read_entity(folder, name)[1]} - {""}
            assert used <= csms, f"{folder.name}/{name}.{column}: unknown CSMs {used - csms}"
        answered = {r["contact_id"] for r in read_entity(folder, "nps_responses")[1]} - {""}
        assert answered <= contacts


def test_an_id_always_means_the_same_record(small):
    root, _ = small
    stable = {
        "accounts": ("account_name", "created_at", "region"),
        "contracts": ("account_id", "start_date", "end_date", "arr_amount", "currency"),
        "contacts": ("account_id", "email"),
        "tickets": ("account_id", "created_at", "priority"),
    }
    seen: dict[tuple[str, str], tuple[str, ...]] = {}
    for folder in date_folders(root):
        for name, columns in stable.items():
            key_column = schema.entity(name).key[0]
            for row in read_entity(folder, name)[1]:
                value = tuple(row[c] for c in columns)
                assert seen.setdefault((name, row[key_column]), value) == value


def test_snapshots_only_grow_and_fx_gains_one_date_a_day(small):
    root, _ = small
    previous_accounts: set[str] = set()
    for number, folder in enumerate(date_folders(root), start=1):
        accounts = {row["account_id"] for row in read_entity(folder, "accounts")[1]}
        assert previous_accounts <= accounts  # churned accounts stay
        previous_accounts = accounts
        rates = read_entity(folder, "fx_rates")[1]
        assert len({row["as_of_date"] for row in rates}) == number
        assert max(row["as_of_date"] for row in rates) == folder.name
        todays = {row["currency"]: float(row["rate_to_usd"]) for row in rates
                  if row["as_of_date"] == folder.name}  # fmt: skip
        assert todays["USD"] == 1.0
        assert {"EUR", "GBP", "JPY", "AUD", "CAD"} <= todays.keys()
        assert 0.004 < todays["JPY"] < 0.01


def test_a_ticket_reappears_with_a_new_version_when_it_changes(small):
    root, _ = small
    versions: dict[str, list[dict[str, str]]] = defaultdict(list)
    for folder in date_folders(root):
        for row in read_entity(folder, "tickets")[1]:
            versions[row["ticket_id"]].append(row)
    assert versions
    for ticket_id, rows in versions.items():
        assert rows[0]["created_at"][:10] == rows[0]["updated_at"][:10], ticket_id
        for row in rows:
            assert row["updated_at"] >= row["created_at"]
            if row["solved_at"]:
                assert row["first_reply_at"] and row["solved_at"] >= row["first_reply_at"]
                assert row["status"] in ("solved", "closed")
    changed = [rows for rows in versions.values() if len(rows) > 1]
    assert changed, "no ticket was updated on a later day"
    assert any(rows[-1]["status"] == "closed" for rows in changed)


@pytest.mark.parametrize("usage_format", ["csv", "parquet"])
def test_usage_formats_hold_the_same_events(tmp_path, usage_format):
    arguments = {"accounts": 60, "days": 3, "seed": 3}
    reference = generate(tmp_path / "gz", **arguments)
    other = generate(tmp_path / usage_format, **arguments, usage_format=usage_format)
    for folder_a, folder_b in zip(
        date_folders(reference.out_dir), date_folders(other.out_dir), strict=True
    ):
        assert entity_file(folder_b, "usage_events").name == f"usage_events.{usage_format}"
        assert read_entity(folder_a, "usage_events") == read_entity(folder_b, "usage_events")
    assert reference.rows == other.rows


def test_gzipped_drops_hold_the_same_bytes_in_members_compressed_once(tmp_path, monkeypatch):
    from touchline.demo import files
    from touchline.sources.filedrop import find_file, read_typed

    monkeypatch.setattr(files.SnapshotFiles, "BLOCK_ROWS", 16)  # many blocks per file
    compressed_blocks = []
    real_compress = gzip.compress
    monkeypatch.setattr(
        files.gzip,
        "compress",
        lambda data, **kw: compressed_blocks.append(len(data)) or real_compress(data, **kw),
    )
    arguments = {"accounts": 120, "days": 4, "seed": 5}
    generate(tmp_path / "one-day", **{**arguments, "days": 1}, compress=True)
    one_day = len(compressed_blocks)
    plain = generate(tmp_path / "plain", **arguments)
    zipped = generate(tmp_path / "gz", **arguments, compress=True)
    four_days = len(compressed_blocks) - one_day
    assert zipped.rows == plain.rows
    for folder_plain, folder_gz in zip(
        date_folders(plain.out_dir), date_folders(zipped.out_dir), strict=True
    ):
        for entity in schema.ENTITIES:
            if entity.name == "usage_events":
                continue
            packed = folder_gz / f"{entity.name}.csv.gz"
            assert not (folder_gz / f"{entity.name}.csv").exists()
            assert (
                gzip.decompress(packed.read_bytes())
                == (folder_plain / f"{entity.name}.csv").read_bytes()
            )
    accounts = (date_folders(zipped.out_dir)[-1] / "accounts.csv.gz").read_bytes()
    assert accounts.count(b"\x1f\x8b\x08") > 5  # one gzip member per block
    # later days compress only the blocks that changed, not every block again
    assert one_day < four_days < 2 * one_day
    # the file-drop source reads a gzipped drop like a plain one
    day = str(zipped.dates[1])
    for entity in ("accounts", "contracts", "tickets"):
        typed = [
            [
                batch.to_pylist()
                for batch in read_typed(find_file(root / day, schema.entity(entity)))
            ]
            for root in (zipped.out_dir, plain.out_dir)
        ]
        assert typed[0] == typed[1] and typed[0][0]
    # writing the other variant into the same folder replaces the file, never doubles it
    generate(tmp_path / "gz", **arguments)
    assert not list((tmp_path / "gz").rglob("accounts.csv.gz"))


def test_summary_counts_what_was_written(small):
    root, summary = small
    counted = Counter()
    for folder in date_folders(root):
        for entity in schema.ENTITIES:
            counted[entity.name] += len(read_entity(folder, entity.name)[1])
    assert summary.rows == dict(counted)
    assert summary.accounts == SMALL["accounts"]
    text = str(summary)
    assert "150 accounts" in text and str(DEFAULT_END_DATE) in text and "usage_events" in text


def test_rejects_an_unknown_usage_format(tmp_path):
    with pytest.raises(ValueError, match="usage_format"):
        generate(tmp_path, accounts=10, days=1, usage_format="xlsx")


# realism -------------------------------------------------------------------------------


def test_tier_shares_follow_the_default_rule(realistic):
    root, _ = realistic
    last = date_folders(root)[-1]
    arr = arr_usd_by_account(last, DEFAULT_END_DATE)
    accounts = read_entity(last, "accounts")[1]
    tiers = Counter(tier_of(row, arr.get(row["account_id"], 0.0)) for row in accounts)
    share = {tier: tiers[tier] / len(accounts) for tier in ("high", "medium", "low", "tech")}
    assert 0.12 <= share["high"] <= 0.25, share
    assert 0.25 <= share["medium"] <= 0.45, share
    assert 0.15 <= share["low"] <= 0.35, share
    assert 0.08 <= share["tech"] <= 0.30, share
    # the CRM owner follows the tier: a dedicated CSM for high, nobody for tech touch
    for row in accounts:
        tier = tier_of(row, arr.get(row["account_id"], 0.0))
        if tier == "high":
            assert row["pod"] == "strategic" and row["csm_email"]
        if tier == "tech":
            assert row["csm_email"] == "" and row["pod"] == ""


def test_some_accounts_onboard_and_some_approach_renewal(realistic):
    root, _ = realistic
    last = date_folders(root)[-1]
    end = DEFAULT_END_DATE
    contracts = read_entity(last, "contracts")[1]
    first_start: dict[str, date] = {}
    renewal: dict[str, date] = {}
    for row in contracts:
        start = date.fromisoformat(row["start_date"])
        first_start[row["account_id"]] = min(first_start.get(row["account_id"], start), start)
        if row["status"] == "active":
            renewal[row["account_id"]] = date.fromisoformat(row["end_date"])
    paying = renewal.keys()
    onboarding = [a for a in paying if (end - first_start[a]).days < 90]
    renewing = [a for a in paying if (renewal[a] - end).days <= 90]
    assert 0.04 <= len(onboarding) / len(paying) <= 0.18
    assert 0.12 <= len(renewing) / len(paying) <= 0.32


def test_the_story_has_detractors_urgent_tickets_and_churn(realistic):
    root, _ = realistic
    folders = date_folders(root)
    scores = [int(r["score"]) for f in folders for r in read_entity(f, "nps_responses")[1]]
    priorities = Counter(r["priority"] for f in folders for r in read_entity(f, "tickets")[1])
    churned = {r["account_id"]: r["churned_on"] for f in folders
               for r in read_entity(f, "churn_events")[1]}  # fmt: skip
    assert any(score <= 6 for score in scores) and any(score >= 9 for score in scores)
    assert priorities["urgent"] >= 1 and priorities["normal"] > priorities["urgent"]
    assert churned
    last = folders[-1]
    for row in read_entity(last, "contracts")[1]:
        if row["account_id"] in churned:
            assert row["status"] != "active", row
    for folder in folders:
        for row in read_entity(folder, "usage_events")[1]:
            churned_on = churned.get(row["account_id"])
            assert churned_on is None or folder.name < churned_on, row


def test_the_touch_log_follows_the_touch_model(realistic):
    root, _ = realistic
    rows = [r for f in date_folders(root) for r in read_entity(f, "activities")[1]]
    types = Counter(r["activity_type"] for r in rows)
    for code in ("check_in_call", "qbr", "check_in_email", "email_open", "product_update_email"):
        assert types[code] > 0, code
    outcomes = Counter(r["outcome"] for r in rows if r["activity_type"] == "check_in_call")
    assert outcomes["no_show"] > 0 and outcomes["completed"] > 5 * outcomes["no_show"]
    sends = [r for r in rows if r["channel"] == "email"
             and r["activity_type"] not in ("email_open", "email_click")]  # fmt: skip
    assert 0.15 <= types["email_open"] / len(sends) <= 0.35
    assert 0.01 <= types["email_click"] / len(sends) <= 0.08


def test_growing_accounts_use_more_at_the_end_than_at_the_start(realistic):
    root, _ = realistic
    book = build_book(REALISTIC["accounts"], REALISTIC["days"], REALISTIC["seed"], DEFAULT_END_DATE)
    growing = {book.account_id[i] for i in range(book.n)
               if book.trajectory[i] == GROWING and book.created_day[i] < 0}  # fmt: skip
    per_day = [
        Counter(r["account_id"] for r in read_entity(f, "usage_events")[1])
        for f in date_folders(root)
    ]
    first = sum(per_day[:14], Counter())
    last = sum(per_day[-14:], Counter())
    first = Counter({a: n for a, n in first.items() if a in growing})
    last = Counter({a: n for a, n in last.items() if a in growing})
    assert sum(last.values()) > 1.15 * sum(first.values())
    busiest = max(growing, key=lambda a: first[a] + last[a])
    assert last[busiest] > first[busiest]


# scale ---------------------------------------------------------------------------------

_PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from touchline.demo.generator import generate
    generate(Path(sys.argv[1]), accounts=2000, days=int(sys.argv[2]), seed=1, usage_format="csv")
    print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    """
)


def _peak_rss_kib(out_dir: Path, days: int) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(out_dir), str(days)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_memory_does_not_grow_with_days(tmp_path):
    # ~180k usage events over 60 days; keeping even just the day tables adds ~20 MiB
    short = _peak_rss_kib(tmp_path / "short", 5)
    long = _peak_rss_kib(tmp_path / "long", 60)
    assert long < short + 12 * 1024, f"peak RSS {short} KiB for 5 days, {long} KiB for 60 days"
