"""The OpenAPI document's paths, built group by group, are the published ones — every endpoint, answer and
word, in order.

tests/fixtures/web/openapi_paths.json is the document's ``paths`` as published. After a deliberate change
of the API, rewrite it (and check its diff) with::

    python -c "import json; from obs_tests.web.openapi_paths import api_paths; \
print(json.dumps(api_paths(), indent=1, ensure_ascii=False))" > tests/fixtures/web/openapi_paths.json
"""

from __future__ import annotations

import json

from obs_tests.web.openapi import openapi_document
from obs_tests.web.openapi_paths import api_paths

from .helpers import FIXTURES

PUBLISHED = FIXTURES / "openapi_paths.json"


def test_api_paths_are_the_published_ones() -> None:
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    paths = api_paths()
    assert paths == published
    # the same order too (dict equality ignores it): paths, operations, parameters, answers
    assert json.dumps(paths, indent=1, ensure_ascii=False) + "\n" == PUBLISHED.read_text(encoding="utf-8")


def test_api_paths_are_the_document_paths() -> None:
    for token_required in (False, True):
        assert openapi_document(token_required=token_required)["paths"] == api_paths()


def test_api_paths_are_new_dictionaries_at_each_call() -> None:
    first = api_paths()
    first["/api/info"]["get"]["responses"]["401"]["description"] = "changed"
    assert api_paths()["/api/info"]["get"]["responses"]["401"]["description"] != "changed"
