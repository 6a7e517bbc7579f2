"""Tables of the history store. Every time column holds epoch seconds (float, UTC)."""
from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, text

metadata = MetaData()

# The epoch time of each lifecycle step, named after the event that records it.
LIFECYCLE_STEPS = ("sent", "received", "started", "succeeded", "failed", "retried", "revoked", "rejected")

tasks = Table(
    "tasks",
    metadata,
    Column("uuid", String(64), primary_key=True),
    Column("name", String(255)),
    Column("state", String(32), nullable=False),
    Column("timestamp", Float, nullable=False),  # time of the event that set `state`
    Column("worker", String(255)),
    Column("client", String(255)),
    Column("queue", String(255)),
    Column("exchange", String(255)),
    Column("routing_key", String(255)),
    Column("args", Text),
    Column("kwargs", Text),
    Column("result", Text),
    Column("exception", Text),
    Column("traceback", Text),
    Column("retries", Integer),
    Column("eta", String(64)),
    Column("expires", String(64)),
    Column("parent_id", String(64)),
    Column("root_id", String(64)),
    *(Column(step, Float) for step in LIFECYCLE_STEPS),
    Column("runtime", Float),  # seconds, as the worker measured it
    # The two time indexes also carry the columns the /explore aggregations read, so a
    # chart over a day or a week is answered from the index without touching the rows.
    Index("ix_tasks_received_cover", "received", "name", "worker", "queue", "started"),
    Index("ix_tasks_state_timestamp_cover", "state", "timestamp", "name", "worker", "queue",
          "runtime", "received"),
    Index("ix_tasks_retried", "retried", "name", "worker", "queue",
          sqlite_where=text("retried IS NOT NULL"), postgresql_where=text("retried IS NOT NULL")),
    Index("ix_tasks_state_received", "state", "received"),
    Index("ix_tasks_name_received", "name", "received"),
    Index("ix_tasks_worker_received", "worker", "received"),
    Index("ix_tasks_parent", "parent_id"),
)

workers = Table(
    "workers",
    metadata,
    Column("hostname", String(255), primary_key=True),
    Column("status", String(16), nullable=False),  # 'online' or 'offline' as last reported
    Column("first_seen", Float),
    Column("last_heartbeat", Float),
    Column("freq", Float),  # heartbeat interval, seconds
    Column("pid", Integer),
    Column("sw_ident", String(64)),
    Column("sw_ver", String(64)),
    Column("sw_sys", String(64)),
    Column("active", Integer),
    Column("processed", Integer),
    Column("load1", Float),
    Column("load5", Float),
    Column("load15", Float),
    Column("succeeded", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("retried", Integer, nullable=False, default=0),
)

worker_samples = Table(
    "worker_samples",
    metadata,
    Column("hostname", String(255), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("active", Integer),
    Column("processed", Integer),
    Column("load1", Float),
    Index("ix_worker_samples_host_time", "hostname", "timestamp"),
    Index("ix_worker_samples_time_cover", "timestamp", "hostname", "active", "load1"),
)

# Messages ready in each queue, measured by the collector's queue sampler every few
# seconds. `messages` is NULL when the broker could not be asked at that time.
queue_samples = Table(
    "queue_samples",
    metadata,
    Column("queue", String(255), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("messages", Integer),
    Index("ix_queue_samples_queue_time", "queue", "timestamp"),
    Index("ix_queue_samples_time", "timestamp"),
)

# API tokens: only the SHA-256 of each token's secret is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("label", String(255)),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("revoked", Float),
)

# Indexes of earlier versions that a wider one above replaces; dropped when a store opens.
RETIRED_INDEXES = ("ix_tasks_received", "ix_tasks_state_timestamp", "ix_worker_samples_time")

TASK_COLUMNS = tuple(column.name for column in tasks.columns)
WORKER_COLUMNS = tuple(column.name for column in workers.columns)
