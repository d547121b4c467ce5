"""A thin JSON-over-HTTP client with timeouts and errors a user can act on.

Every network failure is turned into an :class:`~obs_tests.errors.EndpointError` subclass naming the
server, the URL and what to check. Credentials are never part of a message.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from obs_tests.errors import ApiError, EndpointAuthError, EndpointUnreachable, UsageError

__all__ = ["HttpApi", "is_loopback", "normalise_url", "redact_url"]


def is_loopback(url: str) -> bool:
    """Whether ``url`` names a loopback host (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_loopback("http://127.0.0.1:9090"), is_loopback("http://localhost"), is_loopback("http://prom:9090")
    (True, True, False)
    """
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, whatever its shape (safe to print; never raises).

    >>> redact_url("http://admin:pw@prom:99999/x"), redact_url("admin:pw@[::1"), redact_url("http://p:9090")
    ('http://prom:99999/x', '[::1', 'http://p:9090')
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]
    netloc, tail = rest[: min(ends, default=len(rest))], rest[min(ends, default=len(rest)) :]
    return f"{scheme}{separator}{netloc.rpartition('@')[2]}{tail}"


def normalise_url(url: str, what: str) -> str:
    """Validate an http(s) base URL given by a user; strip the trailing slash.

    Raises :class:`UsageError` for anything that is not a usable ``http://`` or ``https://`` URL.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} URL {redact_url(text)!r} is not valid — use http://host:port or https://host:port")
    try:
        _ = parts.port
    except ValueError:
        raise UsageError(f"{what} URL {redact_url(text)!r} has an invalid port — use a number 1-65535") from None
    return text.rstrip("/")


class HttpApi:
    """Base for the Prometheus, Alertmanager and Grafana clients."""

    server = "server"
    unreachable: type[EndpointUnreachable] = EndpointUnreachable

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        pool_size: int = 32,
        verify: bool | str = True,
    ) -> None:
        self.base_url = normalise_url(base_url, self.server)
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._auth = auth
        self._verify = verify
        self._pool_size = pool_size
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """A per-thread session (requests sessions are not thread-safe)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(self._headers)
            if self._auth:
                session.auth = self._auth
            session.verify = self._verify
            # A loopback server (the embedded stack) is never reached through a proxy; not reading the
            # proxy variables also keeps requests from iterating os.environ, which pytest changes
            # between tests while scenarios poll from background threads.
            session.trust_env = not is_loopback(self.base_url)
            self._local.session = session
        return session

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        timeout: float | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> requests.Response:
        """Send a request; network problems, auth failures and unexpected statuses raise."""
        url = self.url(path)
        shown = redact_url(url)
        wait = timeout if timeout is not None else self.timeout
        try:
            resp = self.session.request(method, url, params=params, json=json, data=data, timeout=wait)
        except requests.exceptions.SSLError as exc:
            raise self.unreachable(
                f"{self.server} at {redact_url(self.base_url)}: TLS error ({_reason(exc)}) — check the "
                "certificate or use http://"
            ) from None
        except requests.exceptions.Timeout:
            raise self.unreachable(
                f"{self.server} at {redact_url(self.base_url)} did not answer {method} {path} within {wait:g}s "
                "— is it overloaded or paused? raise --timeout if it is just slow"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise self.unreachable(
                f"cannot connect to {self.server} at {redact_url(self.base_url)}: {_reason(exc)} — is it "
                "running and is the URL right?"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise self.unreachable(f"{self.server} request to {shown} failed: {_reason(exc)}") from None
        if resp.status_code in (401, 403):
            raise EndpointAuthError(
                f"{self.server} at {redact_url(self.base_url)} refused our credentials (HTTP {resp.status_code} "
                f"on {path}) — check the token or user/password environment variables"
            )
        if resp.status_code not in expect:
            raise ApiError(
                f"{self.server} at {redact_url(self.base_url)}: {method} {path} answered HTTP "
                f"{resp.status_code}: {_snippet(resp)}"
            )
        return resp

    def get_json(self, path: str, *, params: Any = None, timeout: float | None = None) -> Any:
        """GET ``path`` and decode JSON (HTML or garbage raises :class:`ApiError`)."""
        return self.decode(self.request("GET", path, params=params, timeout=timeout), path)

    def decode(self, resp: requests.Response, path: str) -> Any:
        """Decode a JSON body or explain why it is not the API we expected."""
        try:
            return resp.json()
        except ValueError:
            kind = "HTML" if "html" in resp.headers.get("Content-Type", "").lower() else "non-JSON"
            raise ApiError(
                f"{self.server} at {redact_url(self.base_url)}: {path} answered {kind} "
                f"({_snippet(resp)}) — is this URL really {self.server}?"
            ) from None

    def close(self) -> None:
        """Close this thread's session."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "No route to host",
        "Network is unreachable",
        "certificate verify failed",
        "wrong version number",
        "Connection reset by peer",
        "Remote end closed connection",
    ):
        if marker in text:
            return marker.lower() if marker[0].isupper() and " " in marker else marker
    return text.split(": ", 1)[-1][:200]


def _snippet(resp: requests.Response) -> str:
    text = " ".join(resp.text.split())
    return text[:160] + ("…" if len(text) > 160 else "") if text else "(empty body)"
