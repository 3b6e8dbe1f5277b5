"""Where touchline reads and writes, from environment variables with local defaults.

| variable                  | default                      | what                              |
|---------------------------|------------------------------|-----------------------------------|
| TOUCHLINE_HOME            | ./.touchline                 | local state: landing, warehouse   |
| TOUCHLINE_SOURCE_DIR      | $TOUCHLINE_HOME/drop         | the file drop (docs/input-layout) |
| TOUCHLINE_LANDING_DIR     | $TOUCHLINE_HOME/landing      | immutable Parquet per entity/date |
| TOUCHLINE_WAREHOUSE       | $TOUCHLINE_HOME/warehouse.duckdb | the published DuckDB file     |
| TOUCHLINE_OUTPUT_DIR      | ./output                     | work lists (docs/outputs.md)     |
| TOUCHLINE_DBT_PROJECT_DIR | the repository's dbt_project | the dbt project                   |
| TOUCHLINE_EXPECTATIONS_DIR| the repository's expectations| quality-gate suites and thresholds|
| TOUCHLINE_SOURCES         | $TOUCHLINE_HOME/sources.yml  | which system feeds which family   |
| TOUCHLINE_SOURCE_ENCODING | utf-8                        | text encoding of the drop's CSVs  |
| TOUCHLINE_SOURCE_ENCODING_<FAMILY> | TOUCHLINE_SOURCE_ENCODING | one family's (CRM, ...) |
"""

from __future__ import annotations

import codecs
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "touchline_nightly"
WAREHOUSE_POOL = "warehouse_writer"
SEND_PARAM = "send"  # the DAG run's switch for the send tasks (off for a backfill's first days)


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().absolute() if value else default.absolute()


@dataclass(frozen=True)
class Settings:
    home: Path
    source_dir: Path
    landing_dir: Path
    warehouse: Path
    output_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path
    sources_file: Path  # sources.yml: which system feeds which family (absent: the drop)

    @property
    def state_dir(self) -> Path:
        """Scratch space beside the warehouse: dbt target, build copies."""
        return self.warehouse.parent / f".{self.warehouse.stem}-state"

    def with_overrides(self, **paths: str | Path | None) -> Settings:
        given = {k: Path(v).expanduser().absolute() for k, v in paths.items() if v}
        return replace(self, **given)

    def as_params(self) -> dict[str, str]:
        """The paths as DAG-run parameters (strings), as the DAG expects them."""
        return {k: str(v) for k, v in asdict(self).items() if k != "home"}

    @classmethod
    def from_params(cls, params: dict) -> Settings:
        base = settings()
        return base.with_overrides(**{k: params.get(k) for k in base.as_params()})


def settings() -> Settings:
    home = _path("TOUCHLINE_HOME", Path(".touchline"))
    return Settings(
        home=home,
        source_dir=_path("TOUCHLINE_SOURCE_DIR", home / "drop"),
        landing_dir=_path("TOUCHLINE_LANDING_DIR", home / "landing"),
        warehouse=_path("TOUCHLINE_WAREHOUSE", home / "warehouse.duckdb"),
        output_dir=_path("TOUCHLINE_OUTPUT_DIR", Path("output")),
        dbt_project_dir=_path("TOUCHLINE_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"),
        expectations_dir=_path("TOUCHLINE_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
        sources_file=_path("TOUCHLINE_SOURCES", home / "sources.yml"),
    )


SOURCE_ENCODING = "TOUCHLINE_SOURCE_ENCODING"
DEFAULT_SOURCE_ENCODING = "utf-8"
# A CSV's delimiter, quotes and line ends must stay single ASCII bytes for the reader.
_CSV_ASCII = ',"\r\n'


class SourceEncodingError(ValueError):
    """An encoding variable names no text encoding a CSV file can be read in."""


def source_encoding_variable(family: str) -> str:
    """The variable declaring one source family's encoding (``TOUCHLINE_SOURCE_ENCODING_CRM``)."""
    return f"{SOURCE_ENCODING}_{family.upper()}"


def source_encoding(family: str | None) -> str:
    """The declared text encoding of a source family's files, as Python names its codec.

    ``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` wins over ``TOUCHLINE_SOURCE_ENCODING``; neither
    set means UTF-8. Read when a file is read, so a changed variable applies to the next run.
    """
    variables = [source_encoding_variable(family)] if family else []
    for variable in [*variables, SOURCE_ENCODING]:
        value = os.environ.get(variable, "").strip()
        if value:
            return _checked_encoding(variable, value)
    return DEFAULT_SOURCE_ENCODING


def _checked_encoding(variable: str, value: str) -> str:
    hint = "a text encoding such as utf-8, cp1252 or latin-1"
    try:
        name = codecs.lookup(value).name
        if name == "utf-8-sig":  # a UTF-8 byte-order mark is honoured in every file anyway
            name = DEFAULT_SOURCE_ENCODING
        ascii_compatible = _CSV_ASCII.encode(name) == _CSV_ASCII.encode("ascii")
    except LookupError:
        raise SourceEncodingError(
            f"{variable}={value!r} is not a known text encoding; use {hint}"
        ) from None
    if not ascii_compatible:
        raise SourceEncodingError(
            f"{variable}={value!r} does not keep commas, quotes and line ends as single ASCII "
            f"bytes, so a CSV in it cannot be read; convert such files to UTF-8, or use {hint}"
        )
    return name
