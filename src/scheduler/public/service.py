"""Patient self-scheduling: find a time, hold it, book it, manage it by a private link.

Rules on top of the staff booking service:
- only active, self-schedulable types; no overrides, ever;
- a booking needs a live hold placed by the same browser/app session (X-Booking-Session);
  placing a new hold releases the session's previous one (one active hold per session);
- an online booking never attaches to an existing patient record on e-mail and date of birth
  alone: it makes its own record, flagged ``probable_duplicate_of_id`` (the lowest-id record
  with the same e-mail and date of birth) for staff to review and merge. So every answer is
  the same whether or not the person is on file, and a stranger who knows someone's e-mail
  and birthday learns nothing about them. A new record meets no prerequisite, so types with
  prerequisites are not bookable online at all (refused the same way for everyone);
- one person (same e-mail and date of birth) never gets overlapping visits, however their
  requests race: bookings by one identity are serialized (``lock_person``) and checked
  against every record of that identity; the loser is refused like any taken time;
- refusals of a time say only that the time cannot be booked (one message per code), never
  why in terms of providers or other patients;
- the manage token (256-bit random, stored hashed) opens that booking only, until a day after
  the appointment; patients are bound by the type's cancel/reschedule cut-offs (staff are not);
- every "not yours / not there / expired" is the same 404.
"""

# The public self-scheduling service, one module per responsibility: ``common`` (locations,
# types, free times, refusals, a visit as the patient sees it), ``booking`` (hold and book),
# ``manage`` (the manage link: view, calendar, cancel, reschedule). Callers use this module.

from scheduler.public.booking import (
    HeldTime,
    book,
    create_online_patient,
    held_time,
    place_hold,
    release_hold,
)
from scheduler.public.common import (
    MANAGE_GRACE,
    NEAREST_AFTER,
    NEAREST_BEFORE,
    NOT_FOUND,
    TIME_OUTSIDE,
    TIME_TAKEN,
    booking_view,
    find_times,
    list_locations,
    list_types,
    manage_links,
    manage_url,
    nearest_times,
    provider_choices,
    public_location,
    public_refusals,
    public_type,
)
from scheduler.public.manage import (
    booking_by_token,
    booking_ics,
    cancel,
    reschedule,
    view_booking,
)

__all__ = [
    "MANAGE_GRACE",
    "NEAREST_AFTER",
    "NEAREST_BEFORE",
    "NOT_FOUND",
    "TIME_OUTSIDE",
    "TIME_TAKEN",
    "HeldTime",
    "book",
    "booking_by_token",
    "booking_ics",
    "booking_view",
    "cancel",
    "create_online_patient",
    "find_times",
    "held_time",
    "list_locations",
    "list_types",
    "manage_links",
    "manage_url",
    "nearest_times",
    "place_hold",
    "provider_choices",
    "public_location",
    "public_refusals",
    "public_type",
    "release_hold",
    "reschedule",
    "view_booking",
]
