"""The SMTP transport's security settings against a real server that insists on them
(aiosmtpd): STARTTLS then AUTH, or TLS from the first byte then AUTH, each with a certificate
the client verifies (a test CA from ``trustme``, trusted through OpenSSL's ``SSL_CERT_FILE``,
which a clinic with a private CA can use the same way). A wrong password, a plain connection
to a server that requires STARTTLS, and an untrusted certificate are each a ``DeliveryError``,
never a message sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from scheduler.config import Settings
from scheduler.notifications.transports import DeliveryError, OutgoingMessage, build_transport
from tests.notifications.smtp_sink import Sink, free_port

USER, PASSWORD = "mailer", "s3cret-pass"
# Implicit TLS: the whole connection is encrypted, which aiosmtpd's check does not see.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Login:
    """Accepts one user and password; remembers who logged in."""

    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data == (
            USER.encode(),
            PASSWORD.encode(),
        ):
            self.logins.append(USER)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SecureServer:
    """aiosmtpd on 127.0.0.1 requiring ``mode`` (``starttls`` or ``tls``) and a login."""

    def __init__(self, ca: trustme.CA, mode: str) -> None:
        self.sink, self.login, self.port = Sink(), Login(), free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        kwargs: dict[str, Any] = {"authenticator": self.login, "auth_required": True}
        if mode == "starttls":
            kwargs |= {"tls_context": context, "require_starttls": True}
        else:
            # The whole connection is TLS; aiosmtpd's auth_require_tls looks for STARTTLS.
            kwargs |= {"ssl_context": context, "auth_require_tls": False}
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SecureServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client trusts the test CA (and only it) for this test."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def _settings(port: int, security: str, password: str = PASSWORD) -> Settings:
    return Settings(
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,  # type: ignore[arg-type]
        smtp_username=USER,
        smtp_password=password,  # type: ignore[arg-type]
        smtp_timeout_seconds=5.0,
    )


def _message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        to="patient@example.org",
        sender="Downtown Clinic <desk@clinic.example>",
        reply_to="",
        subject="Your appointment at Downtown on Mon 9 Mar, 10:00",
        text="See you then.",
        html="<p>See you then.</p>",
        message_id=f"<m{n}@clinic.example>",
    )


@pytest.fixture(params=["starttls", "tls"])
def server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[SecureServer]:
    with SecureServer(ca, request.param) as running:
        yield running


@pytest.mark.usefixtures("trusted")
def test_the_transport_speaks_tls_and_logs_in_as_configured(server: SecureServer) -> None:
    mode = "starttls" if "tls_context" in server.controller.SMTP_kwargs else "tls"
    transport = build_transport(_settings(server.port, mode))
    try:
        transport.send(_message(1))
        transport.send(_message(2))  # on the same, still authenticated, connection
    finally:
        transport.close()
    assert [str(m["Message-ID"]) for m in server.sink.messages] == [
        "<m1@clinic.example>",
        "<m2@clinic.example>",
    ]
    assert server.login.logins == [USER]


@pytest.mark.usefixtures("trusted")
def test_a_wrong_password_is_a_delivery_error_and_nothing_is_sent(server: SecureServer) -> None:
    mode = "starttls" if "tls_context" in server.controller.SMTP_kwargs else "tls"
    transport = build_transport(_settings(server.port, mode, password="wrong"))
    with pytest.raises(DeliveryError, match="SMTP 535"):
        transport.send(_message(1))
    transport.close()
    assert server.sink.messages == []
    assert server.login.logins == []


@pytest.mark.usefixtures("trusted")
def test_without_starttls_a_server_that_requires_it_refuses(ca: trustme.CA) -> None:
    with SecureServer(ca, "starttls") as running:
        transport = build_transport(_settings(running.port, "none"))
        with pytest.raises(DeliveryError):
            transport.send(_message(1))
        transport.close()
    assert running.sink.messages == []


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_a_certificate_the_client_does_not_trust_is_refused(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client trusts one CA; the server's certificate comes from another.
    trusted_ca = trustme.CA()
    path = tmp_path / "other-ca.pem"
    trusted_ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with SecureServer(trustme.CA(), mode) as running:
        transport = build_transport(_settings(running.port, mode))
        with pytest.raises(DeliveryError, match=r"SSLCertVerificationError|certificate"):
            transport.send(_message(1))
        transport.close()
    assert running.sink.messages == []
    assert running.login.logins == []
