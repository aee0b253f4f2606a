"""Every SQL statement of the notifications, by who runs it: the outbox's inserts and
withdrawals and the backlog (``queue``, used by ``outbox``), the worker's claim and the marks
of each result (``claims``, used by ``delivery``), and staff's list of messages (``messages``,
used by ``service``). The callers decide what happens; the statements are here."""

from scheduler.notifications.repository.claims import (
    claim_due,
    insert_links,
    load_visits,
    mark_not_sent,
    mark_sent,
    release,
    renew,
    retry_later,
)
from scheduler.notifications.repository.messages import (
    MessageFilter,
    MessageOrder,
    MessageRow,
    failed_count,
    is_superseded,
    list_messages,
)
from scheduler.notifications.repository.queue import (
    OutboxBacklog,
    backlog,
    insert_messages,
    latest_successor,
    link_by_token_hash,
    queued_for_booking,
    withdraw_queued,
)

__all__ = [
    "MessageFilter",
    "MessageOrder",
    "MessageRow",
    "OutboxBacklog",
    "backlog",
    "claim_due",
    "failed_count",
    "insert_links",
    "insert_messages",
    "is_superseded",
    "latest_successor",
    "link_by_token_hash",
    "list_messages",
    "load_visits",
    "mark_not_sent",
    "mark_sent",
    "queued_for_booking",
    "release",
    "renew",
    "retry_later",
    "withdraw_queued",
]
