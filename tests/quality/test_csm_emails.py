"""A CSM's address names a work-list file: a malformed one stops the batch at the gate.

(Without the check ``.bad@`` became the hidden file ``worklists/.bad@.csv``.)
"""

from __future__ import annotations

import pytest

from tests.quality.test_gate_before_load import (
    ACCOUNTS,
    DAY,
    GOOD,
    paths_for,
    published,
    replace_line,
    write_drop,
)
from touchline.errors import GateFailed
from touchline.landing import stage_entities
from touchline.pipeline import land_if_passed

ENTITIES = ("accounts", "contracts", "csms")
CSMS = "csm_email,name\nsam.lee@touchline.example,Sam Lee\nal.ng@touchline.example,Al Ng\n"
OWNED = "account_id,account_name,plan,csm_email\n" + "".join(
    f"a{n},Account {n},paid,sam.lee@touchline.example\n" for n in range(1, 201)
)
assert OWNED.count("\n") == ACCOUNTS.count("\n")


@pytest.mark.parametrize(
    ("entity", "line", "bad", "ids"),
    [
        ("csms", 3, ".bad@", "csm_email=.bad@"),
        ("accounts", 6, "sam lee@touchline", "account_id=a5"),
    ],
)
def test_a_malformed_csm_address_stops_the_batch(tmp_path, entity, line, bad, ids):
    files = {**GOOD, "accounts": OWNED, "csms": CSMS}
    old = "al.ng@touchline.example" if entity == "csms" else "sam.lee@touchline"
    files[entity] = replace_line(files[entity], line, old, bad)
    write_drop(tmp_path, files)
    paths = paths_for(tmp_path)
    stage_entities(ENTITIES, paths.source_dir, paths.landing_dir, DAY)
    with pytest.raises(GateFailed) as caught:
        land_if_passed(paths, DAY, ENTITIES)
    message = str(caught.value)
    (failing,) = [m for m in message.splitlines() if "match_regex" in m]
    assert failing.startswith(f"- {entity}: expect_column_values_to_match_regex on 'csm_email'")
    for words in (f"found '{bad}", "an email address", f"{entity}.csv, line {line}", ids):
        assert words in failing, (words, failing)
    assert published(tmp_path) == []
