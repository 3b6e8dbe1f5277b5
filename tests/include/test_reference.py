"""docs/input-layout.md is what the schema accepts: the page and the code never disagree."""

from __future__ import annotations

from touchline.config import REPO_ROOT
from touchline.reference import PAGE, render
from touchline.schema import ALL_ENTITIES


def test_the_input_layout_page_is_written_from_the_schema():
    page = (REPO_ROOT / PAGE).read_text(encoding="utf-8")
    assert page == render(), f"{PAGE} is out of date with schema.py: run `make docs`"


def test_the_page_names_every_entity_and_column():
    page = render()
    for entity in ALL_ENTITIES:
        assert f"### `{entity.name}`" in page
        for column in entity.columns:
            assert f"| `{column.name}` |" in page, f"{entity.name}.{column.name}"
