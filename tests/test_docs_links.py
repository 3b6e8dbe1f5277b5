"""The documentation stands on its own in a clone: every relative link resolves, and no page
sends the reader to a file the repository does not hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from touchline.config import REPO_ROOT

# pages a clone must be able to read without anything outside the repository
PAGES = sorted(
    {
        REPO_ROOT / "README.md",
        REPO_ROOT / "DECISIONLOG.md",
        REPO_ROOT / "bench" / "README.md",
        REPO_ROOT / "expectations" / "README.md",
        *(REPO_ROOT / "docs").rglob("*.md"),
    }
)

# files that exist only beside the project's working copy, never in it
OUTSIDE_FILES = re.compile(r"\.\./shared|/shared/|\bDOMAIN\.md\b|\bCONTRACT\.md\b|\bSTYLE\.md\b")

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1, with inline code blanked out."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, _INLINE_CODE.sub("code", line)))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """Every link target of a markdown page (inline, image and reference links)."""
    found = []
    for number, line in prose_lines(text):
        found += [(number, match.group(1)) for match in _LINK.finditer(line)]
        reference = _REFERENCE.match(line)
        if reference:
            found.append((number, reference.group(1)))
    return found


def anchors(text: str) -> set[str]:
    """The heading anchors a markdown renderer such as GitHub's gives a page."""
    seen: dict[str, int] = {}
    for _, line in prose_lines(text):
        heading = _HEADING.match(line)
        if not heading:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(2))
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken_links(page: Path, text: str) -> list[str]:
    """The relative links of ``page`` (whose markdown is ``text``) that point at no file, or
    at no heading of the page they name."""
    broken = []
    for number, target in links(text):
        if _SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, fragment = target.partition("#")
        where = f"{page.name}:{number}: {target}"
        if not path_part:
            if fragment.lower() not in anchors(text):
                broken.append(f"{where} (no heading #{fragment} on this page)")
            continue
        resolved = (page.parent / path_part).resolve()
        if not resolved.exists():
            broken.append(f"{where} (no such file {resolved})")
        elif fragment and resolved.suffix == ".md" and resolved.is_file():
            if fragment.lower() not in anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{where} (no heading #{fragment} in {resolved.name})")
    return broken


def test_the_documentation_pages_are_found():
    names = {page.relative_to(REPO_ROOT).as_posix() for page in PAGES}
    assert {"README.md", "DECISIONLOG.md", "docs/README.md", "docs/input-layout.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_points_at_an_existing_file(page):
    broken = broken_links(page, page.read_text(encoding="utf-8"))
    assert not broken, f"broken links in {page.relative_to(REPO_ROOT)}:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_no_page_refers_the_reader_to_a_file_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    found = [
        f"{page.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE_FILES.search(line)
    ]
    assert not found, "pages a clone does not have:\n" + "\n".join(found)


def test_a_broken_link_or_heading_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Using it\n", encoding="utf-8")
    page = tmp_path / "example.md"
    text = (
        "# Example\n\n## A `code` heading\n\n"
        "[ok](other.md) [file gone](missing.md) [web](https://example.com)\n"
        "[here](#a-code-heading) [not here](#nowhere) [there](other.md#using-it)\n"
        "[not there](other.md#gone) [folder](.)\n"
        "```\n[in a code block](also-missing.md)\n```\n"
        "`[inline code](missing-too.md)`\n"
    )
    broken = broken_links(page, text)
    assert len(broken) == 3, broken
    assert "missing.md" in broken[0] and "#nowhere" in broken[1] and "#gone" in broken[2]


def test_outside_files_are_recognised():
    for text in ("see ../shared/x", "DOMAIN.md says", "the CONTRACT.md page", "STYLE.md"):
        assert OUTSIDE_FILES.search(text), text
    assert not OUTSIDE_FILES.search("docs/touch-model.md and the contract of docs/outputs.md")
