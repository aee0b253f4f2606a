"""``Idempotency-Key`` for creating POSTs (staff and public holds and bookings): one answer
per key, stored with the row it created (``service``), its statements in ``repository``."""
