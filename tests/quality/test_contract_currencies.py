"""An active contract in a currency without a rate is refused before load, in domain words.

The rule is the build's (``int_account_arr_daily``): a contract counts when it is active (or
has no status) and has started; it converts with the latest fx_rates row on or before the
run date, from the run date's fx_rates snapshot (today's file, else the newest landed one).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.quality.test_gate_before_load import (
    CONTRACTS,
    DAY,
    GOOD,
    paths_for,
    replace_line,
    write_drop,
)
from touchline.errors import GateFailed
from touchline.landing import land_entities, stage_entities
from touchline.pipeline import land_if_passed

WITH_RATES = ("accounts", "contracts", "fx_rates")
RATES = (
    "currency,rate_to_usd,as_of_date\n"
    "USD,1,2026-01-01\n"
    "eur,1.08,2026-10-30\n"
    "GBP,1.27,2026-10-31\n"  # known only after the run date
)


def gate(root, contracts, rates=RATES, entities=WITH_RATES):
    files = {**GOOD, "contracts": contracts}
    if rates is not None:
        files["fx_rates"] = rates
    write_drop(root, files)
    paths = paths_for(root)
    stage_entities(entities, paths.source_dir, paths.landing_dir, DAY)
    return land_if_passed(paths, DAY, entities)


def test_an_active_contract_without_a_rate_stops_the_batch(tmp_path):
    contracts = replace_line(CONTRACTS, 4, ",USD,", ",CHF,")
    contracts = replace_line(contracts, 6, ",USD,", ",GBP,")
    with pytest.raises(GateFailed) as caught:
        gate(tmp_path, contracts)
    message = str(caught.value)
    (line,) = [m for m in message.splitlines() if "active_contract_currency" in m]
    for words in (
        "contracts: expect_column_values_to_be_in_set on 'active_contract_currency'",
        "2 of 200 rows unexpected",
        "found 'CHF', 'GBP'",
        "expected one of EUR/USD",
        "needs an fx_rates row on or before 2026-10-30",
        "contracts.csv, line 4",
        "contract_id=c3, account_id=a3",
        "contract_id=c5, account_id=a5",
    ):
        assert words in line, (words, line)
    assert "were not published" in message


def test_contracts_that_do_not_count_need_no_rate_and_case_does_not_matter(tmp_path):
    header = "contract_id,account_id,start_date,end_date,arr_amount,currency,status,seats\n"
    contracts = header + (
        "c1,a1,2026-01-01,2026-12-31,100,Eur,active,1\n"
        "c2,a2,2026-01-01,2026-12-31,100,CHF,cancelled,1\n"
        "c3,a3,2026-11-01,2027-10-31,100,JPY,active,1\n"  # starts after the run date
        "c4,a4,2026-01-01,2026-12-31,100,usd,,1\n"
    )
    summary = gate(tmp_path, contracts)
    assert summary["status"] == "passed"


def test_rates_landed_before_count_when_the_day_brings_no_rates(tmp_path):
    paths = paths_for(tmp_path)
    earlier = DAY - dt.timedelta(days=3)
    rates = "currency,rate_to_usd,as_of_date\nUSD,1,2026-01-01\nSEK,0.095,2026-10-27\n"
    write_drop(tmp_path, {"fx_rates": rates}, earlier)
    land_entities(["fx_rates"], paths.source_dir, paths.landing_dir, earlier)
    entities = ("accounts", "contracts")
    assert gate(tmp_path, replace_line(CONTRACTS, 3, ",USD,", ",SEK,"), None, entities)
    with pytest.raises(GateFailed, match="found 'CHF'; expected one of SEK/USD"):
        gate(tmp_path, replace_line(CONTRACTS, 3, ",USD,", ",CHF,"), None, entities)
