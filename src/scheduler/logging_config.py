"""Process-wide logging: JSON lines in production, readable text in development.

Every record carries the id of the request it was written for (``request_id``, empty outside a
request), so one request's lines can be found together and matched to its audit events. What
goes into a record is the caller's job: never a patient's name, e-mail, phone or date of birth,
a token, or a query string. The redacting filter is a second line of defence for tokens that
travel in URL paths (calendar feeds, manage links).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from scheduler.config import Settings
from scheduler.kit.redact import RedactingFilter

# Set for the duration of each request by the access-log middleware; copied into worker
# threads with the rest of the context, so sync endpoints' records carry it too.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "{levelname}{name}{message}{request_id}"
# Uvicorn adds an ANSI-coloured copy of some messages; one copy is enough.
_NOT_LOGGED = ("color_message",)
# Uvicorn's loggers otherwise get handlers of their own with a different format.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
# Uvicorn's access log names the raw path and query string (tokens, patient searches);
# scheduler.access replaces it.
_SILENCED = ("uvicorn.access",)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (or an empty string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = REQUEST_ID.get()
        return True


class _SchedulerHandler(logging.StreamHandler[IO[str]]):
    """Our root handler, recognisable so that configuring twice replaces it."""


def uses_json(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return settings.environment == "production"
    return settings.log_format == "json"


def build_formatter(json_lines: bool) -> logging.Formatter:
    if json_lines:
        return JsonFormatter(
            JSON_FIELDS,
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
            reserved_attrs=[*RESERVED_ATTRS, *_NOT_LOGGED],
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send every logger's records, as one format, to ``stream`` (standard error)."""
    handler = _SchedulerHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(build_formatter(uses_json(settings)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SchedulerHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _SILENCED:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = False
    # Outgoing HTTP clients log whole URLs, which may carry tokens. Alembic describes its
    # context each time /readyz reads the database's revision (`scheduler migrate` does not
    # configure logging this way, so its progress lines stay).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # SQL echo would print statement parameters: patients' personal data.
    if not settings.sql_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def unconfigure_logging() -> None:
    """Remove what ``configure_logging`` installed (tests)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SchedulerHandler)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.WARNING)
    for name in ("httpx", "alembic", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name in _SILENCED:
        logging.getLogger(name).propagate = True
