"""Write JUnit XML (the format CI systems read) for results that do not come from pytest.

Example::

    write_junit(Path("reports/rule-tests.xml"), {"gateway_test.yml": [Case("fires", "rules", failure=None)]})
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Case", "write_junit"]


@dataclass(frozen=True)
class Case:
    """One test case: passed unless ``failure`` (or ``skipped``) carries a message."""

    name: str
    classname: str
    failure: str | None = None
    skipped: str | None = None
    time: float = 0.0


def write_junit(path: Path, suites: Mapping[str, Sequence[Case]], name: str = "obs-tests") -> None:
    """Write ``suites`` (suite name -> cases) as a JUnit ``<testsuites>`` document."""
    root = ET.Element("testsuites", name=name)
    for suite_name, cases in suites.items():
        failures = sum(c.failure is not None for c in cases)
        skipped = sum(c.skipped is not None and c.failure is None for c in cases)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=suite_name,
            tests=str(len(cases)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{sum(c.time for c in cases):.3f}",
        )
        for case in cases:
            element = ET.SubElement(
                suite, "testcase", name=case.name, classname=case.classname, time=f"{case.time:.3f}"
            )
            if case.failure is not None:
                failure = ET.SubElement(
                    element, "failure", message=case.failure.splitlines()[0][:200] if case.failure else ""
                )
                failure.text = case.failure
            elif case.skipped is not None:
                ET.SubElement(element, "skipped", message=case.skipped)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
