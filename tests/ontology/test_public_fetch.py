"""Fetching an import over https from a real local server with a certificate made for the test.

The certificate authority and the server certificate (for 127.0.0.1) are generated at test time
with `cryptography`; when it is not installed the https tests skip and only the refusals that
need no server run.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kpi_context.ontology.interop import import_public
from kpi_context.ontology.public_fetch import FetchLimits, ImportErrorCode, ImportFailure, fetch_url

INDEX = (Path(__file__).resolve().parents[1] / "fixtures" / "public" / "index.json").read_bytes()
FAST = FetchLimits(max_bytes=64 * 1024, connect_timeout=2, read_timeout=0.5, total_timeout=1.5, max_redirects=2)


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA certificate, and a server certificate and key for 127.0.0.1 signed by it (PEM files)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, public_key, signing_key, *, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True).add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kpi-context test CA")])
    ca_cert = build(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = build(name, ca_name, key.public_key(), ca_key, ca=False)

    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # the test output stays readable
        return

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        match self.path:
            case "/index.json":
                self._send(200, INDEX, "application/json; charset=utf-8")
            case "/big.json":
                self._send(200, b"[" + b" " * (FAST.max_bytes + 10) + b"]")
            case "/undeclared-big.json":
                # No length header: the limit must hold on the bytes that actually arrive.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"[" + b" " * (FAST.max_bytes + 10) + b"]")
                self.close_connection = True
            case "/missing.json":
                self._send(404, b"{}")
            case "/error.json":
                self._send(500, b"{}")
            case "/page.html":
                self._send(200, b"<html></html>", "text/html")
            case "/bad.json":
                self._send(200, b"{not json")
            case "/slow.json":
                time.sleep(FAST.read_timeout * 3)
                self._send(200, INDEX)
            case "/trickle.json":
                # Each byte arrives well within the read timeout, but the whole would take 10 s.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            case "/to-index":
                self._send(302, b"", Location="/index.json")
            case "/to-http":
                self._send(302, b"", Location=f"http://127.0.0.1:{port}/index.json")
            case "/loop":
                self._send(302, b"", Location="/loop")
            case _:
                self._send(404, b"{}")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that stop reading on purpose (size limit, timeout) reset the connection.
        return


@pytest.fixture(scope="module")
def https_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """Base URL of a local https server and the CA file that verifies it."""
    ca_path, cert_path, key_path = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _failure(url: str, ca: Path | bool, **options) -> ImportFailure:
    with pytest.raises(ImportFailure) as caught:
        fetch_url(url, verify=str(ca) if isinstance(ca, Path) else ca, limits=FAST, allow_private_hosts=True, **options)
    return caught.value


# --- refusals that need no server ----------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com/index.json", "ftp://example.com/index.json", "file:///etc/passwd"])
def test_urls_other_than_https_are_refused_before_any_connection(url):
    with pytest.raises(ImportFailure) as caught:
        import_public(url)

    assert caught.value.code is ImportErrorCode.INSECURE_URL


@pytest.mark.parametrize("url", ["https://example.com:port/index.json", "https://[::1/index.json"])
def test_a_malformed_url_is_refused_as_invalid_not_raised(url):
    with pytest.raises(ImportFailure) as caught:
        import_public(url)

    assert caught.value.code is ImportErrorCode.INVALID_URL


def test_loopback_and_private_hosts_are_refused_by_default():
    for url in ("https://127.0.0.1/index.json", "https://10.1.2.3/index.json", "https://[::1]/index.json"):
        with pytest.raises(ImportFailure) as caught:
            fetch_url(url)
        assert caught.value.code is ImportErrorCode.INSECURE_URL, url


def test_a_closed_port_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The socket is closed again, so nothing listens on the port.

    assert _failure(f"https://127.0.0.1:{port}/index.json", True).code is ImportErrorCode.CONNECTION_ERROR


# --- against the local https server ----------------------------------------------------------


def test_an_index_is_imported_over_https_as_a_labelled_source(https_server):
    base, ca = https_server

    source = import_public(f"{base}/index.json", verify=str(ca), limits=FAST, allow_private_hosts=True)

    assert source.origin == f"{base}/index.json"
    assert source.name == "public ontology index (index.json, v1.3.0)"
    assert len(source.kpis) == len(json.loads(INDEX)["kpis"])
    assert source.ok


def test_an_https_redirect_is_followed(https_server):
    base, ca = https_server

    assert fetch_url(f"{base}/to-index", verify=str(ca), limits=FAST, allow_private_hosts=True) == INDEX


def test_a_redirect_to_plain_http_is_refused(https_server):
    base, ca = https_server

    failure = _failure(f"{base}/to-http", ca)

    assert (failure.code, failure.field) == (ImportErrorCode.INSECURE_URL, "redirect")


def test_endless_redirects_stop_at_the_limit(https_server):
    base, ca = https_server

    assert _failure(f"{base}/loop", ca).code is ImportErrorCode.TOO_MANY_REDIRECTS


def test_a_certificate_the_client_does_not_trust_is_a_tls_error(https_server):
    base, _ = https_server

    # The system trust store has never heard of the test's certificate authority.
    assert _failure(f"{base}/index.json", True).code is ImportErrorCode.TLS_ERROR


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/big.json", ImportErrorCode.TOO_LARGE),
        ("/undeclared-big.json", ImportErrorCode.TOO_LARGE),
        ("/missing.json", ImportErrorCode.NOT_FOUND),
        ("/error.json", ImportErrorCode.HTTP_ERROR),
        ("/page.html", ImportErrorCode.UNSUPPORTED_CONTENT_TYPE),
        ("/slow.json", ImportErrorCode.TIMEOUT),
        ("/trickle.json", ImportErrorCode.TIMEOUT),
    ],
)
def test_server_answers_that_cannot_be_imported_fail_with_a_stable_code(https_server, path, code):
    base, ca = https_server

    assert _failure(f"{base}{path}", ca).code is code


def test_a_body_that_is_not_json_is_refused_as_bad_json(https_server):
    base, ca = https_server

    with pytest.raises(ImportFailure) as caught:
        import_public(f"{base}/bad.json", verify=str(ca), limits=FAST, allow_private_hosts=True)

    assert caught.value.code is ImportErrorCode.BAD_JSON


def test_a_server_error_message_names_the_status(https_server):
    base, ca = https_server

    assert "500" in _failure(f"{base}/error.json", ca).message
