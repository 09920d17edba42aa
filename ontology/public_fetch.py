"""Reading a public-format document from a file or an https URL, defensively.

An import source is untrusted input: it may be huge, slow, redirected to plain http, served
with the wrong content type, or not JSON at all. Every such case ends in an `ImportFailure`
with a stable `code`, never a traceback and never a partial document.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

Verify = ssl.SSLContext | str | bool
"""TLS verification for httpx: True (system CAs), a CA bundle path, or a prepared SSLContext."""

JSON_CONTENT_TYPES = ("application/json", "text/json")


class ImportErrorCode(StrEnum):
    """Stable reasons an import failed. Part of the public API: add codes, never rename them."""

    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    UNSUPPORTED_FORMAT = "unsupported_format"
    INVALID_DEFINITION = "invalid_definition"
    INSECURE_URL = "insecure_url"
    HTTP_ERROR = "http_error"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    INVALID_URL = "invalid_url"


class ImportFailure(Exception):
    """An import that could not produce a source: `code`, a human `message`, the offending `field`."""

    def __init__(self, code: ImportErrorCode, message: str, *, field: str = "source") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def render(self) -> str:
        return f"[{self.code.value}] {self.field}: {self.message}"


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on what one import may cost. The defaults fit the public full index many times over."""

    max_bytes: int = 5 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    """A server that trickles bytes never trips the per-read timeout; this bounds the whole download."""
    max_redirects: int = 3


DEFAULT_LIMITS = FetchLimits()


def is_url(source: str) -> bool:
    return "://" in source


def read_source(
    source: str | Path,
    *,
    verify: Verify = True,
    limits: FetchLimits = DEFAULT_LIMITS,
    allow_private_hosts: bool = False,
) -> bytes:
    """The raw bytes of a local file or an https URL, within `limits`."""
    if isinstance(source, str) and is_url(source):
        return fetch_url(source, verify=verify, limits=limits, allow_private_hosts=allow_private_hosts)
    return read_file(Path(source), limits=limits)


def read_file(path: Path, *, limits: FetchLimits = DEFAULT_LIMITS) -> bytes:
    if not path.exists():
        raise ImportFailure(ImportErrorCode.NOT_FOUND, f"no file at {path}")
    if not path.is_file():
        raise ImportFailure(ImportErrorCode.UNREADABLE, f"{path} is not a regular file")
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ImportFailure(ImportErrorCode.UNREADABLE, f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > limits.max_bytes:
        raise ImportFailure(ImportErrorCode.TOO_LARGE, f"{path} is larger than {limits.max_bytes} bytes")
    return data


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not ip.is_global or ip.is_multicast


def _require_https(url: str, *, allow_private_hosts: bool, field: str = "source") -> None:
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise ImportFailure(ImportErrorCode.INVALID_URL, f"{url} is not a valid URL: {exc}", field=field) from exc
    if parts.scheme.lower() != "https":
        raise ImportFailure(
            ImportErrorCode.INSECURE_URL,
            f"only https:// URLs are imported, not {parts.scheme or 'scheme-less'} ({url})",
            field=field,
        )
    host = parts.hostname
    if not host:
        raise ImportFailure(ImportErrorCode.INSECURE_URL, f"the URL {url} names no host", field=field)
    if allow_private_hosts:
        return
    # An import URL may come from a model's tool call: refuse loopback, private and link-local
    # targets so the server cannot be steered at its own network.
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as exc:
        raise ImportFailure(ImportErrorCode.CONNECTION_ERROR, f"cannot resolve {host}: {exc}", field=field) from exc
    if any(_is_private(str(a)) for a in addresses):
        raise ImportFailure(
            ImportErrorCode.INSECURE_URL, f"{host} is a private, loopback or link-local address", field=field
        )


def _check_content_type(response: httpx.Response, url: str) -> None:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in JSON_CONTENT_TYPES or media.endswith("+json"):
        return
    raise ImportFailure(
        ImportErrorCode.UNSUPPORTED_CONTENT_TYPE,
        f"{url} answered with content type {media or '(none)'}; a JSON document was expected",
    )


def _read_body(response: httpx.Response, url: str, limits: FetchLimits, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise ImportFailure(
            ImportErrorCode.TOO_LARGE, f"{url} declares {declared} bytes; the limit is {limits.max_bytes}"
        )
    body = bytearray()
    # The declared length may be absent or false, so the limit is enforced on what actually arrives.
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > limits.max_bytes:
            raise ImportFailure(ImportErrorCode.TOO_LARGE, f"{url} sent more than {limits.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ImportFailure(
                ImportErrorCode.TIMEOUT, f"{url} did not finish within {limits.total_timeout:g} seconds"
            )
    return bytes(body)


def _tls_context(verify: Verify) -> ssl.SSLContext | bool:
    if not isinstance(verify, str):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ImportFailure(
            ImportErrorCode.TLS_ERROR, f"cannot load CA bundle {verify}: {exc}", field="verify"
        ) from exc


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def fetch_url(
    url: str, *, verify: Verify = True, limits: FetchLimits = DEFAULT_LIMITS, allow_private_hosts: bool = False
) -> bytes:
    """GET an https URL, following at most `limits.max_redirects` redirects, all of them https.

    `allow_private_hosts` lifts the refusal of loopback and private addresses (for tests and
    deliberate in-network use)."""
    _require_https(url, allow_private_hosts=allow_private_hosts)
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    # httpx wants a context rather than a CA path (the string form is deprecated there).
    tls = _tls_context(verify)
    deadline = time.monotonic() + limits.total_timeout
    current = url
    try:
        with httpx.Client(verify=tls, timeout=timeout, follow_redirects=False) as client:
            for _ in range(limits.max_redirects + 1):
                with client.stream("GET", current, headers={"Accept": "application/json"}) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise ImportFailure(
                                ImportErrorCode.HTTP_ERROR, f"{current} redirected without a Location header"
                            )
                        current = urljoin(current, location)
                        _require_https(current, allow_private_hosts=allow_private_hosts, field="redirect")
                        continue
                    if response.status_code in (404, 410):
                        raise ImportFailure(ImportErrorCode.NOT_FOUND, f"{current} answered {response.status_code}")
                    if not response.is_success:
                        raise ImportFailure(
                            ImportErrorCode.HTTP_ERROR,
                            f"{current} answered {response.status_code} {response.reason_phrase}",
                        )
                    _check_content_type(response, current)
                    return _read_body(response, current, limits, deadline)
    except httpx.TimeoutException as exc:
        raise ImportFailure(ImportErrorCode.TIMEOUT, f"{current} timed out ({type(exc).__name__})") from exc
    except httpx.ConnectError as exc:
        if _tls_failure(exc):
            raise ImportFailure(ImportErrorCode.TLS_ERROR, f"TLS handshake with {current} failed: {exc}") from exc
        raise ImportFailure(ImportErrorCode.CONNECTION_ERROR, f"cannot connect to {current}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ImportFailure(ImportErrorCode.CONNECTION_ERROR, f"transfer from {current} failed: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise ImportFailure(ImportErrorCode.INVALID_URL, f"{current} is not a valid URL: {exc}") from exc
    raise ImportFailure(ImportErrorCode.TOO_MANY_REDIRECTS, f"{url} redirected more than {limits.max_redirects} times")


def parse_json(data: bytes, *, origin: str) -> object:
    """Strict JSON: UTF-8 (or a BOM-marked UTF-16/32), no NaN or Infinity."""

    def _reject_constant(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(data, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ImportFailure(ImportErrorCode.BAD_JSON, f"{origin} is not UTF-8 text: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise ImportFailure(
            ImportErrorCode.BAD_JSON, f"{origin} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:
        raise ImportFailure(ImportErrorCode.BAD_JSON, f"{origin} is not valid JSON: {exc}") from exc
