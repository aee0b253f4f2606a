"""Messages to patients: the outbox, their content, and how they travel (transports)."""
