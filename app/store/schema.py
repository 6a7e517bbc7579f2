"""Tables of the history store. Every time column holds epoch seconds (float, UTC).

Text columns have no length: the collector's decoder bounds what it writes (see
collector/decode.py), and a store made with the older bounded columns is widened on open.
"""
from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)

metadata = MetaData()

# The epoch time of each lifecycle step, named after the event that records it.
LIFECYCLE_STEPS = ("sent", "received", "started", "succeeded", "failed", "retried", "revoked",
                   "rejected")

tasks = Table(
    "tasks",
    metadata,
    Column("uuid", String, primary_key=True),
    Column("name", String),
    Column("state", String(32), nullable=False),
    Column("timestamp", Float, nullable=False),  # time of the event that set `state`
    Column("worker", String),
    Column("client", String),
    Column("queue", String),
    Column("exchange", String),
    Column("routing_key", String),
    Column("args", Text),
    Column("kwargs", Text),
    Column("result", Text),
    Column("exception", Text),
    Column("traceback", Text),
    Column("retries", Integer),
    Column("eta", String),
    Column("expires", String),
    Column("parent_id", String),
    Column("root_id", String),
    *(Column(step, Float) for step in LIFECYCLE_STEPS),
    Column("runtime", Float),  # seconds, as the worker measured it
    Column("issue", String),  # the failure's fingerprint (fingerprint.py), set with its exception
    Column("orphaned", Float),  # when its worker went offline while it ran (alerts/)
    Column("periodic_task", String),  # the beat entry that sent it, when the worker hook says
    # The two time indexes also carry the columns the /explore aggregations read, so a
    # chart over a day or a week is answered from the index without touching the rows;
    # the first ends with uuid, the grid's tiebreak, so a page deep in received order is
    # found in the index alone (tasks/queries.py, page_query).
    Index("ix_tasks_received_cover_uuid", "received", "name", "worker", "queue", "started",
          "uuid"),
    Index("ix_tasks_state_timestamp_cover", "state", "timestamp", "name", "worker", "queue",
          "runtime", "received"),
    Index("ix_tasks_retried", "retried", "name", "worker", "queue",
          sqlite_where=text("retried IS NOT NULL"), postgresql_where=text("retried IS NOT NULL")),
    # The grid's sorts and single filters: each its column, then the grid's order within
    # it (received, uuid), so a filter's page or count, or a page sorted by the column,
    # walks one index (tasks/queries.py, sort_keys). The queue filter also matches the
    # routing key of a task in another queue (tasks/queries.py, _queue_parts).
    *(Index(f"ix_tasks_{column}_received_uuid", column, "received", "uuid")
      for column in ("state", "name", "worker", "queue", "runtime")),
    Index("ix_tasks_routing_key_cover", "routing_key", "received", "uuid", "queue"),
    Index("ix_tasks_parent", "parent_id"),
)

# The issues page's GROUP BY: failures (and retries) by fingerprint, with the columns its
# window and counts read, answered from the index alone (an index on the expression
# FAILED_AT is not covering in SQLite, and not reflected, so never known to exist).
FAILED_AT = func.coalesce(tasks.c.failed, tasks.c.retried)  # when a failure happened
Index("ix_tasks_issue_cover", "issue", "failed", "retried", "state", "worker", "retries", "name",
      "queue", "routing_key", _table=tasks, sqlite_where=text("issue IS NOT NULL"),
      postgresql_where=text("issue IS NOT NULL"))

workers = Table(
    "workers",
    metadata,
    Column("hostname", String, primary_key=True),
    Column("status", String(16), nullable=False),  # 'online' or 'offline' as last reported
    Column("first_seen", Float),
    Column("last_heartbeat", Float),
    Column("freq", Float),  # heartbeat interval, seconds
    Column("pid", Integer),
    Column("sw_ident", String),
    Column("sw_ver", String),
    Column("sw_sys", String),
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
    Column("hostname", String, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("active", Integer),
    Column("processed", Integer),
    Column("load1", Float),
    Index("ix_worker_samples_host_time", "hostname", "timestamp"),
    Index("ix_worker_samples_time_cover", "timestamp", "hostname", "active", "load1"),
)

# Messages ready in each queue, measured by the collector's queue sampler every few
# seconds. `messages` is NULL when the broker could not be asked at that time; latency is
# the age of the oldest waiting message (queues/latency.py), NULL when it cannot be told.
queue_samples = Table(
    "queue_samples",
    metadata,
    Column("queue", String, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("messages", Integer),
    Column("latency_seconds", Float),
    Column("latency_source", String(16)),  # 'sent' or 'first_seen'
    Column("priorities", Text),  # JSON: per Redis priority level, messages and latency
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

# Events the collector could not store: invalid ones (refused by its decoder) and rows the
# store itself refused, each with the reason and the raw message as text.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),  # when the collector set it aside
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Index("ix_quarantine_at", "at"),
)

# What a web process needs from the collector when the store is shared (not SQLite): the
# Inspector's replies, the collectors' statuses, the metric snapshot, requests for an
# Inspector round; one JSON value per (kind, name, field), with the time it was written.
shared_state = Table(
    "shared_state",
    metadata,
    Column("kind", String, primary_key=True),  # 'inspect', 'collector', 'metrics', 'request'
    Column("name", String, primary_key=True),  # a worker's hostname, a collector's id...
    Column("field", String, primary_key=True),  # an inspect method, or ''
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", Float, nullable=False),
)

# The audit trail (see audit/trail.py): one row per action that changed, or tried to change,
# the cluster. `targets` and `params` are JSON text; `count` is how many tasks a bulk action
# by filter touched. Web processes append here directly (never the collector's rows).
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("username", String, nullable=False),
    Column("role", String(16), nullable=False),
    Column("via", String(16), nullable=False),  # session, basic, token, open, or cli
    Column("action", String, nullable=False),
    Column("targets", Text, nullable=False),  # JSON list of text
    Column("filter", Text),
    Column("count", Integer),
    Column("params", Text, nullable=False),  # JSON object
    Column("outcome", String(16), nullable=False),  # ok, refused, error, dry-run
    Column("detail", Text, nullable=False),
    Index("ix_audit_at", "at"),
    Index("ix_audit_username_at", "username", "at"),
    Index("ix_audit_action_at", "action", "at"),
)


# Five- and thirty-minute aggregates of the tasks for /explore's long windows (rollups.py):
# per measure (received, SUCCESS, runtime, ...), dimension ('' for all, name, worker, queue),
# span and member
# ('' for none, else '=' and the name), the tasks counted and, for runtime and wait, their
# histogram (bins then counts, little-endian int32).
task_rollups = Table(
    "task_rollups",
    metadata,
    Column("measure", String(16), primary_key=True),
    Column("dimension", String(8), primary_key=True),
    Column("span", Integer, primary_key=True),  # seconds: 1800 or 300
    Column("period", Integer, primary_key=True),  # floor(time / span)
    Column("member", String, primary_key=True),
    Column("tasks", Integer, nullable=False),
    Column("histogram", LargeBinary),
    Index("ix_task_rollups_period", "period"),  # the writer reads the periods it changes
)

# Five- and thirty-minute sums of the worker samples (rollups.py): per worker and period,
# how many samples had each sampled value and their sum, so a mean over whole periods is exact.
worker_sample_rollups = Table(
    "worker_sample_rollups",
    metadata,
    Column("span", Integer, primary_key=True),
    Column("period", Integer, primary_key=True),
    Column("hostname", String, primary_key=True),
    Column("active_samples", Integer, nullable=False),
    Column("active_sum", Float, nullable=False),
    Column("load1_samples", Integer, nullable=False),
    Column("load1_sum", Float, nullable=False),
)

# Facts about the store itself, e.g. that the rollups cover its whole history.
store_marks = Table(
    "store_marks",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
)

# Indexes of earlier versions that a wider one above replaces; dropped when a store opens.
RETIRED_INDEXES = ("ix_tasks_received", "ix_tasks_state_timestamp", "ix_worker_samples_time",
                   "ix_tasks_issue", "ix_tasks_received_cover", "ix_tasks_state_received",
                   "ix_tasks_name_received", "ix_tasks_worker_received",
                   "ix_tasks_routing_key_received")

TASK_COLUMNS = tuple(column.name for column in tasks.columns)
WORKER_COLUMNS = tuple(column.name for column in workers.columns)

# Sign-in sessions (see sessions.py): only the SHA-256 of each cookie's session id is kept.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String, nullable=False),  # flask-login's id: a user name or oauth:<email>
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Column("revoked", Float),  # when it was signed out; NULL while it lasts
    Index("ix_sessions_expires", "expires"),
)

# Tasks sent again from this dashboard (bulk/): the new task's id, the one it repeats. The
# web process writes these rows (the collector never sees the link in any event).
task_links = Table(
    "task_links",
    metadata,
    Column("new_id", String, primary_key=True),
    Column("original_id", String, nullable=False),
    Column("created", Float, nullable=False),
    Column("job_id", String),  # the bulk job that sent it; NULL when sent at once
    Index("ix_task_links_original", "original_id"),
)

# Bulk retry/revoke jobs run by a web process (bulk/jobs.py): kept in the store so that any
# replica answers their progress and takes a cancel. `report` is JSON (sent, refused).
bulk_jobs = Table(
    "bulk_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # 'retry', 'revoke'
    Column("state", String(16), nullable=False),  # running, done, cancelled, failed
    Column("username", String),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),  # the runner's heartbeat
    Column("matched", Integer, nullable=False),
    Column("total", Integer, nullable=False),  # eligible: what the job sends
    Column("done", Integer, nullable=False),
    Column("cancel_requested", Float),
    Column("report", Text, nullable=False),
    Index("ix_bulk_jobs_created", "created"),
)

# Alerts (alerts/): rules made on the /alerts page (the config file's are read from it), the
# current state of each rule per label set, what fired and resolved, mutes, and every
# notification's delivery. The leading collector evaluates and writes; web processes read,
# and write only rules and mutes.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("name", String, primary_key=True),
    Column("definition", Text, nullable=False),  # JSON: the rule as a config-file table
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String, nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("rule", String, primary_key=True),
    Column("labels_key", String, primary_key=True),  # the labels as canonical JSON
    Column("labels", Text, nullable=False),  # JSON object of text
    Column("state", String(16), nullable=False),  # pending, firing
    Column("value", Float),
    Column("threshold", Float),
    Column("active_since", Float, nullable=False),  # when the condition began to hold
    Column("fired_at", Float),
    Column("notified_at", Float),
    Column("updated_at", Float, nullable=False),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("rule", String, nullable=False),
    Column("labels", Text, nullable=False),  # JSON object of text
    Column("status", String(16), nullable=False),  # firing, resolved
    Column("value", Float),
    Column("threshold", Float),
    Column("started_at", Float, nullable=False),
    Index("ix_alert_history_at", "at"),
    Index("ix_alert_history_rule_at", "rule", "at"),
)

alert_mutes = Table(
    "alert_mutes",
    metadata,
    Column("rule", String, primary_key=True),
    Column("until", Float, nullable=False),
    Column("username", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created", Float, nullable=False),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("rule", String, nullable=False),
    Column("notifier", String, nullable=False),
    Column("status", String(16), nullable=False),  # the message's: firing, resolved
    Column("ok", Integer, nullable=False),  # 1 delivered, 0 given up
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Index("ix_alert_deliveries_at", "at"),
    Index("ix_alert_deliveries_notifier_at", "notifier", "at"),
)
