"""URL handling of the HTTP clients: any string a user gives is refused or redacted, never a crash or a leak."""

from __future__ import annotations

import pytest

from obs_tests.clients.base import is_loopback, normalise_url, redact_url
from obs_tests.errors import UsageError

SECRET = "PLANTED-SECRET-7f3a"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            f"http://admin:{SECRET}@prometheus:99999", "'http://prometheus:99999' has an invalid port", id="port"
        ),
        pytest.param(f"http://admin:{SECRET}@[::1", "'http://[::1' is not valid", id="ipv6-unclosed"),
        pytest.param(f"ftp://admin:{SECRET}@prometheus", "'ftp://prometheus' is not valid", id="ftp"),
        pytest.param(f"admin:{SECRET}@prometheus:9090", "'prometheus:9090' is not valid", id="no-scheme"),
        pytest.param("http://", "'http://' is not valid", id="no-host"),
        pytest.param("http://prometheus:-1", "has an invalid port", id="negative-port"),
    ],
)
def test_bad_url_is_a_usage_error_without_its_credentials(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        normalise_url(url, "Prometheus")
    assert message in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("http://u:p@host:9090/x?y#z", "http://host:9090/x?y#z", id="userinfo"),
        pytest.param("https://token@host", "https://host", id="user-only"),
        pytest.param("http://host:9090", "http://host:9090", id="none"),
        pytest.param("http://u:p@[::1]:99999/", "http://[::1]:99999/", id="bad-port"),
        pytest.param("http://u:p@[::1", "http://[::1", id="unclosed"),
        pytest.param("http://host/a@b", "http://host/a@b", id="at-in-path"),
    ],
)
def test_redact_url_never_raises(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_good_urls_pass_and_loopback_is_recognised() -> None:
    assert normalise_url(" http://prometheus:9090/ ", "Prometheus") == "http://prometheus:9090"
    assert is_loopback("http://127.0.0.1:9090") and not is_loopback("http://[::1")
