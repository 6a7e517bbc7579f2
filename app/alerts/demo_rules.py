"""The rules the built-in demo cluster watches when no [[alerts]] are configured, so /alerts
shows rules at work from the first command: one that fires (demo.fail always fails), the
rest there to stay quiet until something goes wrong (stop a demo worker to see one fire)."""
from __future__ import annotations

DEMO_ALERTS: tuple[dict[str, object], ...] = (
    {"name": "demo failures", "kind": "failure_ratio", "task": "demo.fail", "threshold": 0.5,
     "window": "5m", "min_count": 3, "for": "10s",
     "description": "demo.fail always fails: this one fires within a minute."},
    {"name": "worker offline", "kind": "worker_offline", "for": "10s"},
    {"name": "reports stopped", "kind": "dead_mans_switch", "task": "demo.report",
     "threshold": "5m", "description": "No report succeeded for 5 minutes."},
    {"name": "queue waiting", "kind": "queue_latency", "threshold": "1m", "for": "30s"},
)
