"""Keep secrets and personal data out of logs.

Feed and manage tokens travel in URL paths (calendar apps cannot send headers), so any log line
that names a path must go through ``redact_path`` first.
"""

from __future__ import annotations

import logging
import re

_SECRET_SEGMENTS = re.compile(r"/(feeds|manage|bookings/manage)/[^/?#]+", re.IGNORECASE)
_SECRET_QUERY = re.compile(r"([?&](?:token|manage_token|access_token)=)[^&#]+", re.IGNORECASE)


def redact_path(path: str) -> str:
    path = _SECRET_SEGMENTS.sub(lambda m: f"/{m.group(1)}/[redacted]", path)
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}[redacted]", path)


class RedactingFilter(logging.Filter):
    """Rewrites uvicorn access-log records so no token reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True
