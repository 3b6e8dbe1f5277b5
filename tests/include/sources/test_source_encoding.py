"""The drop's text encoding is declared per source family, from environment variables.

``TOUCHLINE_SOURCE_ENCODING_<FAMILY>`` wins over ``TOUCHLINE_SOURCE_ENCODING``; neither set
means UTF-8. A value that is no usable CSV encoding is refused with the variable's name.
"""

from __future__ import annotations

import pytest

from touchline.config import SourceEncodingError, source_encoding


@pytest.fixture(autouse=True)
def no_declared_encoding(monkeypatch):
    for name in ("", "_CRM", "_SUPPORT"):
        monkeypatch.delenv(f"TOUCHLINE_SOURCE_ENCODING{name}", raising=False)


def test_family_override_wins_over_the_source_default(monkeypatch):
    assert source_encoding("crm") == "utf-8"
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING", "latin-1")
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "Windows-1252")
    assert source_encoding("crm") == "cp1252"
    assert source_encoding("support") == "iso8859-1"
    assert source_encoding(None) == "iso8859-1"


def test_utf8_with_signature_is_plain_utf8(monkeypatch):
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", "utf-8-sig")
    assert source_encoding("crm") == "utf-8"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("utf9", "not a known text encoding"),
        ("base64", "not a known text encoding"),
        ("utf-16", "single ASCII bytes"),
    ],
)
def test_unusable_encoding_names_the_variable(monkeypatch, value, reason):
    monkeypatch.setenv("TOUCHLINE_SOURCE_ENCODING_CRM", value)
    with pytest.raises(SourceEncodingError, match=reason) as caught:
        source_encoding("crm")
    assert f"TOUCHLINE_SOURCE_ENCODING_CRM={value!r}" in str(caught.value)
