"""Every table. Import order matters: base sets the naming convention first."""

from scheduler.models.audit import AuditEvent
from scheduler.models.auth import FeedToken, User
from scheduler.models.base import NAMING_CONVENTION, metadata
from scheduler.models.booking import (
    ACTIVE_STATUSES,
    Booking,
    Hold,
    IdempotencyRecord,
    Series,
    SeriesTemplate,
)
from scheduler.models.clinic import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Chair,
    Location,
    LocationHours,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
)
from scheduler.models.enums import BookingStatus, Role
from scheduler.models.notification import Notification, NotificationLink, ReminderOptOut
from scheduler.models.patient import Patient
from scheduler.models.patient_access import PatientLink, PatientSession
from scheduler.models.waitlist import WaitlistEntry, WaitlistOffer
from scheduler.models.web import WebSession

__all__ = [
    "ACTIVE_STATUSES",
    "NAMING_CONVENTION",
    "AppointmentType",
    "AuditEvent",
    "AvailabilityException",
    "AvailabilityRule",
    "Booking",
    "BookingStatus",
    "Chair",
    "FeedToken",
    "Hold",
    "IdempotencyRecord",
    "Location",
    "LocationHours",
    "Notification",
    "NotificationLink",
    "Patient",
    "PatientLink",
    "PatientSession",
    "Provider",
    "ProviderAppointmentType",
    "ProviderLocation",
    "ReminderOptOut",
    "Role",
    "Series",
    "SeriesTemplate",
    "User",
    "WaitlistEntry",
    "WaitlistOffer",
    "WebSession",
    "metadata",
]
