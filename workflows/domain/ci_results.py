"""Test and coverage results from the files CI tools write: JUnit XML, coverage.py JSON,
Cobertura XML. Parsers take text (read through the workspace, so size-limited) and return
None for anything they cannot understand rather than raising.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - see _xml_root
from dataclasses import dataclass


@dataclass(frozen=True)
class JUnitResult:
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> bool:
        """Passed means something ran and nothing failed or errored."""
        return self.tests > 0 and self.failures + self.errors == 0


def _xml_root(text: str) -> ET.Element | None:
    # The text is size-limited by the workspace reader and the expat bundled with Python
    # 3.11 (2.4+) refuses entity-expansion bombs, so the stdlib parser is safe enough here.
    try:
        return ET.fromstring(text)  # noqa: S314
    except ET.ParseError:
        return None


def parse_junit(text: str) -> JUnitResult | None:
    """Totals of a JUnit XML file (`<testsuites>` or a single `<testsuite>`)."""
    root = _xml_root(text)
    if root is None or root.tag not in ("testsuites", "testsuite"):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag == "testsuites" and root.get("tests") is not None:
        suites = [root]  # pytest and others put the totals on the root
    totals = [sum(_int(s.get(name)) for s in suites) for name in ("tests", "failures", "errors")]
    skipped = sum(_int(s.get("skipped") or s.get("skips")) for s in suites)
    return JUnitResult(totals[0], totals[1], totals[2], skipped)


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except ValueError:
        return 0


def parse_coverage(text: str) -> float | None:
    """Line coverage in percent, from coverage.py JSON (`totals.percent_covered`) or
    Cobertura XML (`line-rate` on the root, a 0..1 fraction)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _coverage_json(stripped)
    if stripped.startswith("<"):
        return _coverage_xml(stripped)
    return None


def _coverage_json(text: str) -> float | None:
    try:
        data = json.loads(text)
        value = data["totals"]["percent_covered"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _coverage_xml(text: str) -> float | None:
    root = _xml_root(text)
    if root is None or root.tag != "coverage" or root.get("line-rate") is None:
        return None
    try:
        return float(root.get("line-rate", "")) * 100
    except ValueError:
        return None
