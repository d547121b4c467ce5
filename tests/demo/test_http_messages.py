from __future__ import annotations

import pytest

from obs_tests.demo.http_messages import Response, encode_response


def test_http_encode_response_rejects_header_injection() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_response(Response(200, b"", headers=[(b"x-a", b"1\r\nx-b: 2")]))
    assert encode_response(Response(204, b"body"), head=True).endswith(b"\r\n\r\n")
