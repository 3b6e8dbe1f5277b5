"""sources.yml: which system feeds which family, refused with the key's path when wrong."""

from __future__ import annotations

import textwrap

import pytest

from touchline.schema import ENTITIES, FAMILIES
from touchline.sources.config import CONNECTORS, FILEDROP, ConfigError, load


def write(tmp_path, text: str):
    path = tmp_path / "sources.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_without_a_file_every_entity_comes_from_the_drop(tmp_path):
    config = load(tmp_path / "sources.yml")
    assert set(config.by_entity.values()) == {FILEDROP}
    assert set(config.by_entity) == {e.name for e in ENTITIES}
    assert config.plan("crm") == {FILEDROP: list(FAMILIES["crm"])}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("famlies: {}\n", "sources.yml: famlies: unknown key"),
        ("families: {billing: filedrop}\n", "families.billing: no such source family"),
        ("families: {crm: salesforce}\n", "families.crm: 'salesforce' is not a source"),
        ("entities: {fx_rate: filedrop}\n", "entities.fx_rate: no such entity"),
        ("sources: {sf: {type: salesfarce}}\n", "sources.sf.type: 'salesfarce'; expected one"),
        ("sources: {filedrop: {type: zendesk}}\n", "sources.filedrop: the name is reserved"),
        ("sources: {sf: [salesforce]}\n", "sources.sf: expected a mapping"),
        ("families: [crm]\n", "families: expected a mapping"),
        ("families: {crm: [\n", "not valid YAML"),
    ],
)
def test_a_wrong_key_is_named(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)


def test_every_connector_type_is_registered_with_its_classes():
    for kind, (module, options, connector) in CONNECTORS.items():
        assert module == f"touchline.sources.{kind}", kind
        assert options.endswith("Options") and connector.endswith("Connector")


def test_a_connector_asked_for_an_entity_it_does_not_read_is_named(tmp_path):
    path = write(tmp_path, "families: {crm: hs}\nsources: {hs: {type: hubspot}}\n")
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert "sources.hs: hubspot does not provide snoozes, fx_rates" in str(refused.value)
    fixed = write(
        tmp_path,
        "families: {crm: hs}\nentities: {snoozes: filedrop, fx_rates: filedrop}\n"
        "sources: {hs: {type: hubspot}}\n",
    )
    assert load(fixed).plan("crm") == {
        "hs": ["accounts", "contracts", "contacts", "csms"],
        FILEDROP: ["snoozes", "fx_rates"],
    }


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_every_connector_names_the_entities_it_reads(kind):
    import importlib

    module, _, connector = CONNECTORS[kind]
    provided = getattr(importlib.import_module(module), connector).entities
    assert provided and all(name in {e.name for e in ENTITIES} for name in provided)
