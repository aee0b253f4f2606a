"""Who is acting, and in which role: plain data, free of HTTP (the worker and the CLI act too).

The request dependencies in ``auth/dependencies.py`` build an ``Actor`` from a bearer token;
services receive it and record it in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.models.enums import Role

ADMIN = Role.ADMIN
FRONT_DESK = Role.FRONT_DESK
PROVIDER = Role.PROVIDER
DESK_ROLES = (Role.ADMIN, Role.FRONT_DESK)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, a patient holding a manage link, or the system."""

    kind: str  # "user", "patient", "system"
    label: str  # e.g. "user:3", "patient-link:booking:17", "system:worker"
    user_id: int | None = None
    role: Role | None = None
    provider_id: int | None = None
    request_id: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind == "user"


SYSTEM = Actor(kind="system", label="system")
