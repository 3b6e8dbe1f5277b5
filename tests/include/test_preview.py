"""``touchline preview``: a night built with edited seeds on copies, compared with the
published run (docs/reviewing-changes.md).

Each preview here edits one seed in a way whose effect can be predicted from the published
files, and checks that nothing of the published state changed: the whole TOUCHLINE_HOME
(warehouse, landing, export ledger, BI copy, Airflow home), the output folder and the outbox
are byte for byte as they were.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_touchline

pytestmark = pytest.mark.e2e

SHIPPED = REPO_ROOT / "dbt_project" / "seeds"
RULE_TIERS = {"plan_free", "plan_trial"}  # tech whatever the ARR


def digests(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (path -> sha256), and every folder (path -> 'dir')."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            found[str(path)] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            )
    return found


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def edited_seed(folder: Path, name: str, edit) -> Path:
    """A copy of the shipped seed ``name`` in ``folder``, ``edit(rows)`` applied."""
    with open(SHIPPED / name, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    edit(rows)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def raise_high_tier(rows: list[dict[str, str]]) -> None:
    next(row for row in rows if row["tier"] == "high")["min_arr_usd"] = "150000"


def widen_red(rows: list[dict[str, str]]) -> None:
    bands = {row["band"]: row for row in rows}
    bands["red"]["max_score"], bands["yellow"]["min_score"] = "60", "61"


@pytest.fixture
def published(two_nights):
    """The published state's digests, checked unchanged after the test."""
    roots = (two_nights["home"], two_nights["output"], two_nights["outbox"])
    before = digests(*roots)
    assert any(p.endswith("export_ledger.sqlite") for p in before)  # the files destination sent
    yield two_nights
    assert digests(*roots) == before


def preview(nights, seeds: Path, work: Path, *args: str):
    completed = run_touchline(
        "preview",
        "--seeds",
        str(seeds),
        "--output-dir",
        str(nights["output"]),
        "--work-dir",
        str(work),
        *args,
        home=nights["home"],
        extra_env=nights["env"],
    )
    return completed


def high_by_arr_below(run_dir: Path, drops: list[Path], limit: float) -> set[str]:
    """Accounts served high touch in ``run_dir`` that no rule makes high and whose ARR is
    below ``limit`` on every day of ``drops`` (the days the tier looks back over)."""
    ruled = set()
    for drop in drops:
        for row in read_rows(drop / "accounts.csv"):
            if row["is_strategic"] == "true" or row["implementation_complexity"] == "complex":
                ruled.add(row["account_id"])
    arr: dict[str, float] = {}
    for day in {drop.name for drop in drops}:
        folder = run_dir.parent / day
        for row in read_rows(folder / "accounts.csv") if folder.is_dir() else []:
            arr[row["account_id"]] = max(arr.get(row["account_id"], 0), float(row["arr_usd"]))
    return {
        row["account_id"]
        for row in read_rows(run_dir / "accounts.csv")
        if row["tier"] == "high"
        and row["account_id"] not in ruled
        and row["plan"] not in ("free", "trial")
        and 100000 <= arr[row["account_id"]] < limit
    }


def moves(found: dict, column: str) -> dict[tuple[str, str], set[str]]:
    return {
        (move["from"], move["to"]): {a["account_id"] for a in move["accounts"]}
        for move in found["accounts"]["moves"]
        if move["column"] == column
    }


def tasks(found: dict, *kinds: str) -> list[dict]:
    return [t for g in found["groups"] for t in g["tasks"] if t["change"] in kinds]


def test_a_wider_red_band_moves_yellow_accounts_to_red_at_once(published, tmp_path):
    """Bands apply to the rebuilt day at once; against the published yellow the next night
    sees a crossing into red, so the health-drop outreach is raised."""
    last = published["dates"][1]
    seeds = edited_seed(tmp_path / "seeds", "health_bands.csv", widen_red)
    work = tmp_path / "work"
    completed = preview(published, seeds, work, "--format", "json", "--keep")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = json.loads(completed.stdout)

    baseline = read_rows(published["output"] / last.isoformat() / "accounts.csv")
    predicted = {
        row["account_id"]
        for row in baseline
        if row["health_band"] == "yellow" and 51 <= int(row["health_score"]) <= 60
    }
    assert predicted, "no yellow account in 51-60 on the small drop: the test shows nothing"
    assert moves(found, "health_band") == {("yellow", "red"): predicted}
    assert moves(found, "tier") == {}
    assert set().union(*moves(found, "lifecycle_stage").values()) <= predicted
    assert found["preview"]["seeds"] == [
        {"file": "health_bands.csv", "rows_new_or_edited": 2, "shipped_rows_gone": 2}
    ]
    assert found["before"]["folder"] == str(published["output"] / last.isoformat())

    # only the moved accounts gain or lose tasks (others' pooled tasks may be dealt anew)
    assert {t["account_id"] for t in tasks(found, "new", "closed")} <= predicted
    raised = {
        t["account_id"] for t in tasks(found, "new") if t["touchpoint"] == "health_drop_outreach"
    }
    assert raised and raised <= predicted

    # kept: the copy's own files, the same health scores with the new bands
    kept = Path(found["preview"]["work_folder"])
    assert kept.parent == work and found["after"]["folder"] == str(
        kept / "output" / last.isoformat()
    )
    scores = {r["account_id"]: r["health_score"] for r in baseline}
    for row in read_rows(kept / "output" / last.isoformat() / "accounts.csv"):
        assert row["health_score"] == scores[row["account_id"]]
        assert (row["health_band"] == "red") == (int(row["health_score"]) <= 60)
    shutil.rmtree(kept)


def test_a_higher_tier_line_waits_for_the_hysteresis(published, tmp_path):
    """As shipped tonight, a raised ARR line drops no account at once: the tier an account
    is served in is the highest of its last 30 days, and the days before keep theirs."""
    seeds = edited_seed(tmp_path / "seeds", "touch_tiers.csv", raise_high_tier)
    work = tmp_path / "work"
    completed = preview(published, seeds, work)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert out.startswith(
        f"touchline preview: {published['dates'][1]} built with the seeds in {seeds}/"
    )
    assert "Edited seeds: touch_tiers.csv (1 row(s) new or edited, 1 shipped row(s) gone)" in out
    assert "the days before as published; nothing was published or sent" in out
    assert "Tiers move down only after 30 days below their line (hysteresis)" in out
    assert "no account changed tier, stage or band" in out
    assert "no task is new, moved, changed or closed" in out
    assert list(work.iterdir()) == []  # the work folder is gone


def test_a_higher_tier_line_with_the_history_rebuilt(published, tmp_path):
    last = published["dates"][1]
    seeds = edited_seed(tmp_path / "seeds", "touch_tiers.csv", raise_high_tier)
    completed = preview(
        published, seeds, tmp_path / "work", "--rebuild-history", "--format", "json"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = json.loads(completed.stdout)
    assert found["preview"]["mode"] == "history rebuilt"
    drops = [published["drop"] / day.isoformat() for day in published["dates"]]
    predicted = high_by_arr_below(published["output"] / last.isoformat(), drops, 150000)
    assert predicted
    assert moves(found, "tier") == {("high", "medium"): predicted}
    assert {t["account_id"] for t in tasks(found, "new", "closed")} <= predicted


def test_a_past_date_is_rebuilt_as_its_own_night(published, tmp_path):
    """The first night has no earlier days to hold the tier up: the accounts drop at once."""
    first = published["dates"][0]
    seeds = edited_seed(tmp_path / "seeds", "touch_tiers.csv", raise_high_tier)
    completed = preview(
        published, seeds, tmp_path / "work", "--date", first.isoformat(), "--format", "json"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = json.loads(completed.stdout)
    assert found["after"]["run_date"] == found["before"]["run_date"] == first.isoformat()
    predicted = high_by_arr_below(
        published["output"] / first.isoformat(),
        [published["drop"] / first.isoformat()],
        150000,
    )
    assert predicted
    assert moves(found, "tier") == {("high", "medium"): predicted}


def test_bad_seeds_are_refused_readably(published, tmp_path):
    work = tmp_path / "work"

    unknown = tmp_path / "unknown"
    unknown.mkdir()
    shutil.copy(SHIPPED / "touch_tiers.csv", unknown / "touch_tier.csv")
    completed = preview(published, unknown, work)
    assert completed.returncode == 1
    message = completed.stderr
    assert f"{unknown / 'touch_tier.csv'} is not a seed of the touch model" in message
    assert "touch_tiers.csv" in message.split("the known seeds")[1]
    assert "health_bands.csv" in message.split("the known seeds")[1]

    def rename_column(path: Path) -> None:
        text = (SHIPPED / "touch_tiers.csv").read_text(encoding="utf-8")
        path.write_text(text.replace("min_arr_usd", "min_arr", 1), encoding="utf-8")

    header = tmp_path / "header"
    header.mkdir()
    rename_column(header / "touch_tiers.csv")
    completed = preview(published, header, work)
    assert completed.returncode == 1
    message = completed.stderr
    assert f"{header / 'touch_tiers.csv'}: its columns differ from the shipped" in message
    assert "missing min_arr_usd" in message and "not in the shipped seed: min_arr" in message

    completed = preview(published, header, work, "--date", "2026-01-01")
    assert completed.returncode == 1  # the seeds are checked first
    completed = preview(published, tmp_path / "seeds-missing", work)
    assert completed.returncode == 1 and "no such folder" in completed.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    completed = preview(published, empty, work, "--date", "2026-01-01")
    assert completed.returncode == 1
    assert str(published["output"] / "2026-01-01" / "worklist.csv") in completed.stderr
    assert not work.exists() or list(work.iterdir()) == []


def test_a_failing_configuration_check_comes_back_in_words(published, tmp_path):
    def overweight(rows):
        next(row for row in rows if row["component"] == "usage")["weight"] = "45"

    seeds = edited_seed(tmp_path / "seeds", "health_components.csv", overweight)
    work = tmp_path / "work"
    completed = preview(published, seeds, work)
    assert completed.returncode == 1, completed.stdout
    message = completed.stderr
    last = published["dates"][1]
    assert f"with the seeds in {seeds}/, the night of {last} would fail" in message
    assert "assert_health_component_weights_sum_to_100" in message
    assert list(work.iterdir()) == []
