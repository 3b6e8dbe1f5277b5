"""Which system feeds which source family: ``sources.yml``, validated before anything runs.

::

    families:                 # every family not named here comes from the file drop
      crm: salesforce         # a source defined under `sources`, or `filedrop`
      support: zendesk
      usage: product_events
    entities:                 # optional: one entity from another source than its family
      fx_rates: filedrop
    sources:
      salesforce:
        type: salesforce      # the connector; the other keys are its options
        conn_id: touchline_salesforce
      zendesk:
        type: zendesk
      product_events:
        type: usage_files
        url: s3://analytics-exports/segment/

The file is ``$TOUCHLINE_HOME/sources.yml`` (or ``TOUCHLINE_SOURCES``); without one, every
family comes from the file drop. A misspelt key, an unknown family, entity, source or
connector type is refused with the file and the key's path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from touchline.errors import ConfigError
from touchline.schema import ENTITIES, FAMILIES

FILEDROP = "filedrop"

# connector type -> (module, options model, connector class); imported when used, so the
# DAG's parse and a drop-only deployment never load the vendors' clients
CONNECTORS: dict[str, tuple[str, str, str]] = {
    "salesforce": ("touchline.sources.salesforce", "SalesforceOptions", "SalesforceConnector"),
    "hubspot": ("touchline.sources.hubspot", "HubSpotOptions", "HubSpotConnector"),
    "zendesk": ("touchline.sources.zendesk", "ZendeskOptions", "ZendeskConnector"),
    "usage_files": ("touchline.sources.usage_files", "UsageFilesOptions", "UsageFilesConnector"),
    "usage_sql": ("touchline.sources.usage_sql", "UsageSqlOptions", "UsageSqlConnector"),
}


@dataclass(frozen=True)
class Source:
    name: str
    type: str
    options: Any  # the connector's options model (None for the file drop)

    def connector_class(self):
        module, _, class_name = CONNECTORS[self.type]
        return getattr(importlib.import_module(module), class_name)

    def connector(self):
        return self.connector_class()(self.options)


@dataclass(frozen=True)
class SourcesConfig:
    path: Path | None
    by_entity: dict[str, str]  # entity -> source name (FILEDROP for the drop)
    sources: dict[str, Source]

    def plan(self, family: str) -> dict[str, list[str]]:
        """The family's entities grouped by the source that reads them, in schema order."""
        grouped: dict[str, list[str]] = {}
        for name in FAMILIES[family]:
            grouped.setdefault(self.by_entity[name], []).append(name)
        return grouped


def load(path: Path | None) -> SourcesConfig:
    """Read and validate ``path``; a missing file means the file drop for everything."""
    if path is None or not Path(path).exists():
        return SourcesConfig(None, {e.name: FILEDROP for e in ENTITIES}, {})
    where = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    _mapping(raw, where, "the file")
    _known(raw, {"families", "entities", "sources"}, where, "")
    sources = {}
    for name, entry in (raw.get("sources") or {}).items():
        sources[str(name)] = _source(str(name), entry, where)
    choices = set(sources) | {FILEDROP}
    by_entity = {e.name: FILEDROP for e in ENTITIES}
    families = raw.get("families") or {}
    _mapping(families, where, "families")
    for family, source in families.items():
        if family not in FAMILIES:
            raise ConfigError(
                f"{where}: families.{family}: no such source family; "
                f"expected one of {', '.join(FAMILIES)}"
            )
        _choice(source, choices, where, f"families.{family}")
        for entity in FAMILIES[family]:
            by_entity[entity] = source
    entities = raw.get("entities") or {}
    _mapping(entities, where, "entities")
    for entity, source in entities.items():
        if entity not in by_entity:
            known = ", ".join(e.name for e in ENTITIES)
            raise ConfigError(
                f"{where}: entities.{entity}: no such entity; expected one of {known}"
            )
        _choice(source, choices, where, f"entities.{entity}")
        by_entity[entity] = source
    for name, source in sources.items():
        provided = source.connector_class().entities
        missing = [e for e, s in by_entity.items() if s == name and e not in provided]
        if missing:
            raise ConfigError(
                f"{where}: sources.{name}: {source.type} does not provide "
                f"{', '.join(missing)}; take {'it' if len(missing) == 1 else 'them'} from "
                f"another source under entities (e.g. {missing[0]}: {FILEDROP})"
            )
    unused = set(sources) - set(by_entity.values())
    if unused:
        raise ConfigError(
            f"{where}: sources.{sorted(unused)[0]}: defined but feeds no family or entity"
        )
    return SourcesConfig(Path(path), by_entity, sources)


def _source(name: str, entry: Any, where: str) -> Source:
    from pydantic import ValidationError

    _mapping(entry, where, f"sources.{name}")
    if name == FILEDROP:
        raise ConfigError(f"{where}: sources.{name}: the name is reserved for the file drop")
    kind = entry.get("type")
    if kind not in CONNECTORS:
        raise ConfigError(
            f"{where}: sources.{name}.type: {kind!r}; expected one of {', '.join(CONNECTORS)}"
        )
    module, options_name, _ = CONNECTORS[kind]
    options_model = getattr(importlib.import_module(module), options_name)
    options = {k: v for k, v in entry.items() if k != "type"}
    try:
        return Source(name, kind, options_model.model_validate(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        value = f" (got {first['input']!r})" if "input" in first and first["loc"] else ""
        raise ConfigError(f"{where}: sources.{name}.{key}: {first['msg'].lower()}{value}") from None


def _mapping(value: Any, where: str, what: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {what}: expected a mapping of keys to values")


def _known(raw: dict, allowed: set[str], where: str, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}: {prefix}{key}: unknown key; expected {', '.join(sorted(allowed))}"
            )


def _choice(source: Any, choices: set[str], where: str, key: str) -> None:
    if source not in choices:
        raise ConfigError(
            f"{where}: {key}: {source!r} is not a source; expected {FILEDROP} or one "
            f"defined under sources ({', '.join(sorted(choices - {FILEDROP})) or 'none'})"
        )
