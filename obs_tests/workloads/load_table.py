"""Print the load table of a Locust ``--json-file``: ``python -m obs_tests.workloads.load_table STATS.json``
(``--json``: the report document instead). Per request name: requests, failures, success rate, average,
median, p95, p99 and max response time (ms) and requests/s, as Locust computes them
(:mod:`obs_tests.workloads.load_report`). Exit 0, or 2 with ``UsageError: …`` for a file that is not
Locust's stats.

Example::

    python -m obs_tests.workloads.load_table reports/stats.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from obs_tests.errors import UsageError
from obs_tests.workloads.load_report import read_report

__all__ = ["main"]

USAGE = "usage: python -m obs_tests.workloads.load_table STATS.json [--json]"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (or with ``--json`` the document) of the Locust stats file named in ``argv``."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    paths = [a for a in args if a != "--json"]
    if len(paths) != 1 or any(p.startswith("-") for p in paths):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        report = read_report(Path(paths[0]))
    except UsageError as exc:
        print(f"UsageError: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2) if as_json else "\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
