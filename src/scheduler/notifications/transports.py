"""How messages travel. ``Transport`` is the interface; e-mail over SMTP and to ``.eml``
files are the two kinds today (an SMS transport would take the same ``OutgoingMessage`` and
use its ``text``).

Failures are ``DeliveryError``: the worker retries them with backoff and marks the message
failed after the last attempt, with ``str(error)`` as the reason staff see (never the
message's content or address).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.generator import BytesGenerator
from email.message import Message
from email.policy import SMTP, Compat32
from email.utils import formatdate, parseaddr
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scheduler.config import Settings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger("scheduler.notifications")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "text/calendar"
    data: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message. ``message_id`` is stable across resends after a crash."""

    to: str
    sender: str
    reply_to: str
    subject: str
    text: str
    html: str
    message_id: str
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def as_bytes(self) -> bytes:
        """The message as sent: multipart/mixed of (plain text | HTML) and the attachments,
        with CRLF line ends.

        Built with the standard library's ``email.message.Message`` (compat32), each header
        written once in its final form, rather than ``EmailMessage``: the modern API parses
        every header it stores (two dozen per message), which cost a worker more CPU than
        all else it does for a message, and the ``email.mime`` classes parse and rewrite a
        part's Content-Type for each parameter they add (benchmarks/README.md, "Worker").
        Text parts are UTF-8 quoted-printable, so an ``.eml`` file stays readable;
        attachments are base64. Headers with non-ASCII text (a clinic's or patient's name)
        are encoded as RFC 2047 words.
        """
        mail = _multipart("mixed")
        mail["MIME-Version"] = "1.0"
        mail["From"] = _header("From", self.sender)
        mail["To"] = _header("To", self.to)
        if self.reply_to:
            mail["Reply-To"] = _header("Reply-To", self.reply_to)
        mail["Subject"] = _header("Subject", self.subject)
        mail["Message-ID"] = self.message_id
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        for name, value in self.headers.items():
            mail[name] = _header(name, value)
        bodies = _multipart("alternative")
        bodies.attach(_text_part(self.text, "plain"))
        bodies.attach(_text_part(self.html, "html"))
        mail.attach(bodies)
        for attachment in self.attachments:
            part = Message()
            part.add_header("Content-Type", attachment.content_type, **attachment.params)
            part.set_payload(attachment.data)
            encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            mail.attach(part)
        out = BytesIO()
        BytesGenerator(out, policy=_WIRE).flatten(mail)
        return out.getvalue()


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


class _WirePolicy(Compat32):
    """compat32 with CRLF line ends, except that a header already fit to go on the wire
    (ASCII, one line within the limit: every header ``as_bytes`` writes, the non-ASCII ones
    being RFC 2047-encoded first) is written as it is. compat32 runs each through
    ``email.header.Header``'s folding, which gives such a value back unchanged after costing
    half of the message's flattening (tests/notifications/test_wire_headers.py compares)."""

    def fold_binary(self, name: str, value: str) -> bytes:
        limit = self.max_line_length
        if (
            isinstance(value, str)
            and value.isascii()
            and (not limit or len(name) + 2 + len(value) <= limit)
            and "\r" not in value
            and "\n" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


# Headers folded only past RFC 5322's hard limit: compat32 would otherwise put a long value
# without spaces (a List-Unsubscribe URL) on a line of its own, which readers then keep the
# leading space of.
_WIRE = _WirePolicy(linesep="\r\n", max_line_length=998)
_UNFOLDED = SMTP.clone(max_line_length=0)


def _header(name: str, value: str) -> str:
    """``value`` as it may stand in the header: ASCII as is, otherwise with its non-ASCII
    words (of a display name, a subject) RFC 2047-encoded, the addresses left intact."""
    if value.isascii():
        return value
    folded = str(_UNFOLDED.header_factory(name, value).fold(policy=_UNFOLDED))
    return folded.split(":", 1)[1].strip()


def _boundary() -> str:
    """A multipart boundary that cannot occur in the parts: ``=_`` is impossible in
    quoted-printable and base64 text. Left to itself the generator would search each
    message's text for its random boundary with a regular expression compiled anew for every
    multipart, the costliest step of the flattening."""
    return f"=_{secrets.token_hex(16)}"


def _multipart(subtype: str) -> Message:
    part = Message()
    part.add_header("Content-Type", f"multipart/{subtype}", boundary=_boundary())
    return part


def _text_part(text: str, subtype: str) -> Message:
    part = Message()
    part.add_header("Content-Type", f"text/{subtype}", charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(_UTF8_QP.body_encode(text))
    return part


class DeliveryError(Exception):
    """The transport could not deliver the message now (refused, timed out, unreachable)."""


class DeliveryUnconfirmed(DeliveryError):
    """The server was given the whole message but did not confirm it (no answer in time, or
    the connection dropped): it may have arrived. Sending it again could give the patient two
    copies, so the worker does not (RFC 1047 describes these duplicates)."""


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Deliver or raise ``DeliveryError``."""

    def close(self) -> None: ...


class FileTransport:
    """Writes each message as ``<data_dir>/outbox/<id>.eml``: what the patient would get.

    For development and ``make run``; the log line names the file only (no address, no
    subject: both could identify a patient).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: OutgoingMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = message.message_id.strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.directory / f"{name}.eml"
        try:
            path.write_bytes(message.as_bytes())
        except OSError as exc:
            raise DeliveryError(f"cannot write {path.name}: {exc.strerror}") from exc
        log.info("message written to %s", path)

    def close(self) -> None:
        return None


class _Unconfirmed(Exception):
    """Raised inside ``smtplib``'s ``sendmail`` once the message's data went out unanswered."""


class _ConfirmedData:
    """``smtplib``'s DATA command, but once the message's data is out the server's confirmation
    is awaited for ``data_timeout`` (not the short command timeout), and a missing one raises
    ``_Unconfirmed`` rather than ``SMTPServerDisconnected``: then the server may have kept the
    message, and nothing may send it again."""

    data_timeout: float = 60.0

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        """``sendmail`` gives the message as bytes."""
        assert isinstance(msg, bytes)
        # A mixin: only ever mixed into smtplib.SMTP / SMTP_SSL below (_Smtp, _SmtpSsl), which
        # mypy cannot know from the mixin's own class.
        smtp: smtplib.SMTP = self  # type: ignore[assignment]
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        payload = _DOT_LINE.sub(b"..", msg)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        smtp.send(payload + b".\r\n")  # a failure here: the server has no complete message
        sock = smtp.sock
        assert sock is not None
        sock.settimeout(self.data_timeout)
        try:
            code, reply = smtp.getreply()
        except smtplib.SMTPServerDisconnected as exc:  # no answer in time, or the line dropped
            raise _Unconfirmed(str(exc)) from exc
        if smtp.sock is not None:
            smtp.sock.settimeout(smtp.timeout)
        return code, reply


# A line starting with "." gets one more (RFC 5321 4.5.2, smtplib's ``_quote_periods``).
_DOT_LINE = re.compile(rb"(?m)^\.")


class _Smtp(_ConfirmedData, smtplib.SMTP):
    pass


class _SmtpSsl(_ConfirmedData, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """SMTP with the standard library's ``smtplib``: plain, STARTTLS or implicit TLS, with
    optional login. One connection is kept open for a batch and reopened when it drops.

    A message goes once per ``send`` at most: the connection is tried again only when it
    failed before the server had the whole message (a kept-open connection the server closed
    meanwhile). Once the data is out, a late or missing confirmation is
    ``DeliveryUnconfirmed``, never a second copy; the confirmation is awaited for
    ``data_timeout`` (servers may take long to accept, RFC 5321 4.5.3.2.6), every other reply
    for ``timeout``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str = "none",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        data_timeout: float = 60.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.data_timeout = max(data_timeout, timeout)
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: _Smtp | _SmtpSsl
        if self.security == "tls":
            smtp = _SmtpSsl(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = _Smtp(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=context)
        smtp.data_timeout = self.data_timeout
        if self.username:
            smtp.login(self.username, self.password)
        return smtp

    def send(self, message: OutgoingMessage) -> None:
        try:
            data = message.as_bytes()
        except (ValueError, UnicodeError) as exc:  # an address no header can carry
            raise DeliveryError(f"cannot encode the message: {type(exc).__name__}") from exc
        sender, recipient = _envelope(message.sender), _envelope(message.to)
        # An address outside ASCII needs the server's SMTPUTF8 (RFC 6531).
        options = () if (sender + recipient).isascii() else ("SMTPUTF8",)
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.sendmail(sender, [recipient], data, mail_options=options)
                return
            except _Unconfirmed as exc:
                self._drop()
                raise DeliveryUnconfirmed(
                    f"the server did not confirm the message within {self.data_timeout:g} s"
                    f" ({_reply(str(exc))}); it may have arrived, so it is not sent again"
                ) from exc
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if attempt == 2:
                    raise DeliveryError(f"SMTP server disconnected: {_reply(str(exc))}") from exc
            except smtplib.SMTPResponseException as exc:
                self._drop()
                raise DeliveryError(f"SMTP {exc.smtp_code}: {_reply(exc.smtp_error)}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                self._drop()
                codes = sorted({code for code, _ in exc.recipients.values()})
                raise DeliveryError(f"SMTP refused the recipient ({codes})") from exc
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise DeliveryError(f"SMTP: {type(exc).__name__}: {_reply(str(exc))}") from exc

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
# A plain address (dot-atoms, as a patient's e-mail is stored): parseaddr would give it back
# as it is, after a character-by-character parse.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")


def _envelope(address: str) -> str:
    """The address alone of ``address`` (``Name <a@b>`` gives ``a@b``)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return _parsed_address(address)


@lru_cache(maxsize=64)
def _parsed_address(address: str) -> str:
    """Cached: the sender (a location's From) is the same for every message."""
    return parseaddr(address)[1]


def _reply(error: bytes | str) -> str:
    """The server's reply, without any address in it (staff see it; logs may too)."""
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return _ADDRESS.sub("<address>", text)[:200]


def build_transport(settings: Settings) -> Transport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            timeout=settings.smtp_timeout_seconds,
            data_timeout=settings.smtp_data_timeout_seconds,
        )
    return FileTransport(settings.data_dir / "outbox")
