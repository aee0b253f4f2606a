"""Keep secrets and personal data out of logs.

Feed, manage and sign-in tokens travel in URL paths (calendar apps cannot send headers), and
searches carry names, e-mails and dates of birth in query strings (``/patients?q=rosa``), so any log
line that names a path must go through ``redact_path`` first. It keeps the path (with secret
segments replaced) and the names of the query parameters; of the values it keeps only those of
parameters that cannot hold personal data (ids of clinic resources, time windows, paging).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
_SECRET_SEGMENTS = re.compile(
    r"/(feeds|manage|bookings/manage|me/link)/[^/?#\s\"]+",
    re.IGNORECASE,
)
# A query string inside a path or a log line: up to whitespace, a quote or a fragment.
_QUERY = re.compile(r"\?([^\s\"'#]*)")
# Parameters whose values are never personal data: everything else is redacted.
_PLAIN_PARAMETERS = frozenset(
    {
        "appointment_type",
        "appointment_type_id",
        "chair",
        "chair_id",
        "day",
        "end",
        "include_revoked",
        "limit",
        "location",
        "location_id",
        "offset",
        "page",
        "page_size",
        "provider",
        "provider_id",
        "size",
        "start",
        "status",
    }
)


def _redact_query(match: re.Match[str]) -> str:
    pairs = []
    for pair in match.group(1).split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and unquote_plus(name).lower() not in _PLAIN_PARAMETERS:
            value = REDACTED
        pairs.append(f"{name}{equals}{value}")
    return "?" + "&".join(pairs)


def redact_path(path: str) -> str:
    path = _SECRET_SEGMENTS.sub(lambda m: f"/{m.group(1)}/{REDACTED}", path)
    return _QUERY.sub(_redact_query, path)


class RedactingFilter(logging.Filter):
    """Rewrites uvicorn access-log records so no token or search term reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True
