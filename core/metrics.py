"""What `duban serve` counts, for `/metrics` (Prometheus text format, prometheus-client).

Counters and histograms live in one registry per process (`REGISTRY`); the depths of the inbox and the outbox
are read from the database when scraped (`bot.health.DepthCollector`, in a registry of its own per app), so
they are the same whichever process answers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INBOX_STORED = Counter("duban_inbox_stored", "Incoming updates stored in the inbox", ["channel"], registry=REGISTRY)
INBOX_DUPLICATES = Counter(
    "duban_inbox_duplicates", "Incoming updates already stored (platform redeliveries)", ["channel"], registry=REGISTRY
)
INBOX_SKIPPED = Counter(
    "duban_inbox_skipped",
    "Updates of unbound users stored but not handled (over the cap)",
    ["channel"],
    registry=REGISTRY,
)
INBOX_HANDLED = Counter("duban_inbox_handled", "Inbox messages handled", ["channel"], registry=REGISTRY)
INBOX_FAILED = Counter("duban_inbox_failed", "Inbox handling attempts that failed", ["channel"], registry=REGISTRY)
HANDLING_SECONDS = Histogram(
    "duban_handling_seconds",
    "From storing an update to its replies being committed to the outbox",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
BOARD_SECONDS = Histogram(
    "duban_board_seconds",
    "Board requests: from arrival to the response, by route and status",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
OUTBOX_SENT = Counter("duban_outbox_sent", "Outbox rows delivered", ["channel", "kind"], registry=REGISTRY)
OUTBOX_RETRIED = Counter("duban_outbox_retried", "Outbox deliveries put back for later", ["channel"], registry=REGISTRY)
OUTBOX_FAILED = Counter("duban_outbox_failed", "Outbox rows given up on", ["channel"], registry=REGISTRY)
