"""The errors caused by the data or its settings, which no retry can fix.

They live apart from the modules that raise them (the drop's parser, the sources, the
suites, the build, the gates) so that the nightly DAG can tell them from other failures
without importing those modules, and the libraries they use, when Airflow parses it. The
raising modules re-export them under their old names (``touchline.sources.filedrop.
InputError``, ``touchline.warehouse.BuildError``, ...).
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A file of the drop breaks the contract; the message says where and how."""

    def __init__(
        self,
        path: Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.message = message
        self.line = line
        self.column = column
        self.value = value
        self.expected = expected
        place = str(self.path)
        if line is not None:
            place += f", line {line}"
        if column is not None:
            place += f", column {column!r}"
        text = f"{place}: {message}"
        if value is not None:
            text += f"; found {value!r}"
        if expected is not None:
            text += f", expected {expected}"
        super().__init__(text)

    def __reduce__(self):
        # rebuilt from its parts when it crosses a process boundary (parallel landing)
        return (
            _input_error,
            (self.path, self.message, self.line, self.column, self.value, self.expected),
        )


def _input_error(path, message, line, column, value, expected) -> InputError:
    return InputError(path, message, line=line, column=column, value=value, expected=expected)


class SourceError(RuntimeError):
    """The system refused or broke its contract: the message names the object, record id
    and field (a missing required field), or the request and status (after the retries)."""


class ConfigError(ValueError):
    """``sources.yml`` is not valid; the message names the file and the key."""


class SuiteError(RuntimeError):
    """The expectations folder is missing or broken."""


class BuildError(RuntimeError):
    """dbt build failed; the published warehouse is unchanged.

    ``tests``: the failed data tests in words (``FailedTest.as_dict``), for the report.
    """

    def __init__(self, message: str, tests: list[dict] | None = None) -> None:
        super().__init__(message)
        self.tests = tests or []


class GateFailed(RuntimeError):
    """Data failed an expectation of severity ``fail``; the run stops at this gate."""
