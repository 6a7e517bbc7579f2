"""The event collector: a receiver thread feeding a supervised writer that batches into the store.

The receiver only queues raw messages (see inbox.py: memory, then a disk spool). The
writer takes whatever has queued since its last commit (an idle writer commits an event at
once), decodes it, folds it into rows with the merge rules and commits one transaction, so
under load the store sees few, large writes.

Nothing ends the writer, and nothing it is given is dropped:
* an event the decoder refuses is put in the quarantine with its reason;
* a batch the store refuses is split, message by message and then event by event, until
  what it refuses is isolated; that goes to the quarantine and the rest is written;
* while the store is unreachable the whole read–merge–write is retried with backoff (the
  batch split smaller each time, so a nearly full disk can still take it), new messages
  go to the spool, and they are replayed once the store is back.
Each part is merged and written atomically: worker counters and metrics are applied only
once its transaction commits, so a retried part never counts twice. Replays are idempotent
too (a spool replayed after a crash, a standby's ring written on taking over): an event
counts toward worker counters and metrics only if merging it changed its row.

Between batches the writer also orphans the running tasks of workers gone offline (by the
liveness rule of workers/liveness.py; orphans.py): one UPDATE per offline spell, which later
events of those tasks keep, since the merge starts from the stored row.

Only the leading collector writes (see leadership.py); a standby's writer waits, and its
receiver's messages go to its ring (standby.py) until it takes the lead.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from ..store.history import HistoryStore
from ..store.merge import apply_task_event, apply_worker_event, new_task_row, new_worker_row
from ..store.outage import short_store_error
from .decode import MalformedEvent, iter_events, raw_text
from .inbox import Inbox
from .leadership import AdvisoryLeadership, SoleLeader
from .metric_snapshots import MetricPublisher
from .orphans import OrphanMarker
from .receivers import Backoff
from .retention import Retention
from .ring import Ring
from .standby import Router
from .status import CollectorStatus

log = logging.getLogger(__name__)

MAX_BATCH_MESSAGES = 1000  # messages folded into one transaction at most
SAMPLE_SECONDS = 10.0  # one worker sample per worker per this many seconds, for charts
IDLE_CHECK_SECONDS = 5.0  # how often an idle writer asks whether the store still answers

Part = list[list[Any]]  # messages, each the list of its decoded events (or MalformedEvents)


class StoreUnreachable(Exception):
    """The store did not answer (or could not take any write): wait, don't blame the data."""


class NotLeading(Exception):
    """This collector lost the lead: what it holds waits in its spool."""


class EventCollector:
    def __init__(self, receiver, store: HistoryStore, status: CollectorStatus,
                 retention: Retention | None = None, metrics: MetricPublisher | None = None,
                 inbox: Inbox | None = None,
                 leadership: SoleLeader | AdvisoryLeadership | None = None):
        self.receiver, self.store, self.status = receiver, store, status
        self.retention = retention
        self.metrics = metrics
        self.inbox = inbox or Inbox()
        self.leadership = leadership or SoleLeader()
        self._leads = self.leadership.leading
        self._term = self.leadership.term
        self.router = Router(self.inbox, Ring(), self._leads)
        self._stop = threading.Event()
        self._workers: dict[str, dict[str, Any]] | None = None  # loaded once the store answers
        self._last_sample: dict[str, float] = {}
        self._checked_at = time.monotonic()
        self.orphans = OrphanMarker(store)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.status.publish_if_due(force=True)  # replace what a previous run left in the cache
        self._threads = [
            threading.Thread(target=self.receiver.run, name="event-receiver", daemon=True,
                             args=(self.router.push, self._stop, self.status)),
            threading.Thread(target=self._write_loop, name="event-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving, then write out what is already queued (or spool it)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _write_loop(self) -> None:
        while True:
            try:
                if not self._write_step():
                    break
            except Exception:  # noqa: BLE001 — a bug must not end ingestion: log it and go on
                log.exception("event writer: unexpected error; carrying on")
                self._stop.wait(1.0)
        self.status.publish_if_due(force=True)
        if self.metrics is not None and self._leads:
            self.metrics.publish_if_due(force=True)

    def _write_step(self) -> bool:
        """One batch and the housekeeping after it; False once stopped and drained."""
        if not self._follow_leadership():
            if self._stop.is_set():
                return False
            self._stop.wait(0.5)
            self._report()
            return True
        batch, from_spool = self.inbox.next_batch(MAX_BATCH_MESSAGES, 0.5)
        if batch:
            if not self.ingest(batch, from_spool):
                return False
            if not self.leadership.leading:
                return True  # lost the lead in this batch: no pruning, no metrics of ours
        elif self._stop.is_set():
            return False
        else:
            self._check_store_if_idle()
        if self.status.snapshot()["store_down_since"] is None:
            if self._workers is not None:
                self.orphans.check(self._workers)
            if self.retention is not None:
                self._prune(self.retention)
        self._report()
        if self.metrics is not None:
            self.metrics.publish_if_due()
        return True

    def _follow_leadership(self) -> bool:
        """Whether this collector leads; taking the lead (or losing it) happens here, in
        the writer's thread, which alone touches the rows and metrics it keeps."""
        leadership = self.leadership
        leading, term = leadership.leading, leadership.term
        if leading != self._leads or term != self._term:
            self._leads, self._term = leading, term
            if leading:
                self.status.store_ok()  # the lock was just taken: the store answers
                self._take_over()
            else:
                self.router.demote()
            self.status.leadership(leading, leadership.since)
        if not leading:
            self.router.keep_evicted = not leadership.store_up
            if leadership.store_up:
                self.status.store_ok()
            elif self.status.snapshot()["store_down_since"] is None:
                self.status.store_failed(StoreUnreachable("the store does not answer"))
        return leading

    def _take_over(self) -> None:
        self._workers = None  # the rows the last leader wrote, read afresh
        self._last_sample.clear()
        self.orphans.forget()
        if self.metrics is not None:
            self.metrics.resume()
        held = self.router.promote()
        if held:
            log.info("taking over: writing the %d messages of the last %.0f s first", held,
                     self.router.ring.seconds)

    def _check_store_if_idle(self) -> None:
        """A quiet cluster writes nothing, so nothing would tell that the store went away
        (or came back): look every IDLE_CHECK_SECONDS, and at every idle step while it is
        down, so the status published next never repeats an outage that has ended."""
        now = time.monotonic()
        down = self.status.snapshot()["store_down_since"] is not None
        if not down and now - self._checked_at < IDLE_CHECK_SECONDS:
            return
        self._checked_at = now
        if self.store.reachable():
            self._recovered()
        else:
            if not down:
                log.warning("the store is unreachable (it does not answer)")
            self.inbox.spill(True)
            self.status.store_failed(StoreUnreachable("the store does not answer"))

    def _report(self) -> None:
        spool = self.inbox.spool
        if spool is not None:
            self.status.spool(len(spool), spool.size, self.inbox.lost, spool.appended)
        self.status.set_backlog(self.inbox.backlog)
        self.status.publish_if_due()

    def _prune(self, retention: Retention) -> None:
        try:
            retention.prune_step()
        except Exception as exc:  # noqa: BLE001 — pruning waits for the next round
            log.warning("retention: pruning failed: %s", short_store_error(exc))

    # -- one batch -----------------------------------------------------------------------

    def ingest(self, messages: list[Any], from_spool: bool = False) -> bool:
        """Store a batch of raw messages, whatever it takes; False if stopped before the
        store came back (the batch is then kept in the spool for the next run)."""
        pending: deque[Part] = deque([self._decode(messages)])
        backoff = Backoff()
        while pending:
            part = pending.popleft()
            try:
                self._store_part(part)
            except NotLeading:
                if not from_spool:  # a spooled batch is on disk already
                    self.inbox.keep(messages)
                return True
            except StoreUnreachable as outage:
                pending.appendleft(part)
                if not self._wait_out(outage, pending, backoff, messages, from_spool):
                    return False
            except Exception as refusal:  # noqa: BLE001 — the store refused something in it
                pending.extendleft(reversed(self._isolate(part, refusal)))
            else:
                self._recovered()
        if from_spool:
            self.inbox.acknowledge(len(messages))
        return True

    def _wait_out(self, outage: StoreUnreachable, pending: deque[Part], backoff: Backoff,
                  messages: list[Any], from_spool: bool) -> bool:
        cause = outage.__cause__ or outage
        if self.status.snapshot()["store_down_since"] is None:
            log.warning("the store is unreachable: %s", short_store_error(cause))
        self.inbox.spill(True)  # before the status says so: whoever reads it may send at once
        self.status.store_failed(cause)
        if self._stop.is_set():
            self.inbox.keep([] if from_spool else messages)  # a spooled batch is on disk already
            log.error("stopping with the store unreachable: %d messages kept in the spool",
                      len(messages))
            return False
        part = pending.popleft()
        if len(part) > 1:  # smaller transactions may fit where a large one did not
            middle = len(part) // 2
            pending.extendleft([part[middle:], part[:middle]])
        else:
            pending.appendleft(part)
        self._report()
        self._stop.wait(backoff.next())
        return True

    def _recovered(self) -> None:
        if self.status.snapshot()["store_down_since"] is not None:
            log.info("the store answers again; catching up")
        self.status.store_ok()
        self.inbox.spill(False)

    @staticmethod
    def _isolate(part: Part, refusal: Exception) -> list[Part]:
        """Split a refused part: by messages, then by events; a single refused event
        becomes a quarantine entry, which the next attempt writes."""
        if len(part) > 1:
            middle = len(part) // 2
            return [part[:middle], part[middle:]]
        (events,) = part
        if len(events) > 1:
            return [[[event]] for event in events]
        (event,) = events
        if isinstance(event, MalformedEvent):  # even the quarantine refused it: say so, once
            log.error("could not quarantine an event (%s): %s", event.reason, refusal)
            return []
        reason = f"refused by the store: {short_store_error(refusal)}"
        return [[[MalformedEvent(reason, event)]]]

    def _decode(self, messages: list[Any]) -> Part:
        part = []
        for message in messages:
            events = list(iter_events(message))
            for event in events:
                if isinstance(event, MalformedEvent):
                    self.status.malformed(event)
            part.append(events)
        return part

    def _is_outage(self, error: Exception) -> bool:
        if isinstance(error, OperationalError):  # connection lost, database locked, disk full
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        return not self.store.reachable()

    def _store_part(self, part: Part) -> None:
        """Merge and write one part in one transaction; apply its side effects after."""
        if not self.leadership.confirm():
            raise NotLeading()
        try:
            self._merge_and_write(part)
        except Exception as exc:
            if self._is_outage(exc):
                raise StoreUnreachable() from exc
            raise

    def _merge_and_write(self, part: Part) -> None:
        if self._workers is None:
            self._complete_rollups()
            self._workers = self.store.load_workers()
        events = [event for message in part for event in message]
        good = [event for event in events if not isinstance(event, MalformedEvent)]
        bad = [event for event in events if isinstance(event, MalformedEvent)]
        tasks = [event for event in good if event["type"].startswith("task-")]
        workers = [event for event in good if not event["type"].startswith("task-")]
        touched: dict[str, dict[str, Any]] = {}
        observed: list[tuple] = []
        sampled: dict[str, float] = {}
        samples = self._fold_worker_events(workers, touched, observed, sampled)
        task_rows, stored = self._fold_task_events(tasks, touched, observed)
        now = time.time()
        quarantined = [{"at": now, "reason": problem.reason[:1000], "raw": raw_text(problem.raw)}
                       for problem in bad]
        self.store.write(task_rows, list(touched.values()), samples, quarantined, stored)
        self._workers.update(touched)
        self._last_sample.update(sampled)
        self._observe(observed)
        if bad:
            self.status.quarantined(len(bad), bad[-1].reason)
        self.status.ingested(len(good), max((event["timestamp"] for event in good), default=None))

    def _complete_rollups(self) -> None:
        """A store made before the rollups gets them once, before the writer goes on."""
        if self.store.rollups_ready():
            return
        log.info("building the chart rollups from the stored tasks, once; events wait meanwhile")
        started = time.monotonic()
        read = self.store.rebuild_rollups()
        log.info("the chart rollups were built from the %d stored tasks in %.1f s", read,
                 time.monotonic() - started)

    def _observe(self, observed: list[tuple]) -> None:
        if self.metrics is None:
            return
        state = self.metrics.state
        for observation in observed:
            if observation[0] == "worker":
                state.worker_event(observation[1])
            else:
                state.task_event(*observation[1:])

    def _worker(self, hostname: str, touched: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """This part's copy of a worker's row: the kept one changes only once it commits."""
        row = touched.get(hostname)
        if row is None:
            assert self._workers is not None  # _merge_and_write loaded them first
            known = self._workers.get(hostname)
            row = touched[hostname] = dict(known) if known else new_worker_row(hostname)
        return row

    def _fold_worker_events(self, events, touched, observed, sampled) -> list[dict[str, Any]]:
        samples = []
        for event in events:
            row = self._worker(event["hostname"], touched)
            before = dict(row)
            newest = apply_worker_event(row, event)
            if row == before:
                continue  # a replay, or older than what is known: nothing to count
            observed.append(("worker", event))
            if newest:
                timestamp, hostname = event["timestamp"], row["hostname"]
                last = sampled.get(hostname, self._last_sample.get(hostname, 0.0))
                if timestamp - last >= SAMPLE_SECONDS:
                    sampled[hostname] = timestamp
                    samples.append({"hostname": hostname, "timestamp": timestamp,
                                    "active": row["active"], "processed": row["processed"],
                                    "load1": row["load1"]})
        return samples

    def _fold_task_events(self, events, touched_workers, observed
                          ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Merge task events into their rows, loading the rows the store already has; the
        merged rows, and the stored ones as they were loaded (the store writes what
        changed)."""
        rows = self.store.load_tasks(list({event["uuid"] for event in events}))
        stored = {uuid: dict(row) for uuid, row in rows.items()}
        for event in events:
            uuid = event["uuid"]
            row = rows.get(uuid)
            if row is None:
                row = rows[uuid] = new_task_row(uuid)
            previous_state = row["state"]
            before = dict(row)
            counter = apply_task_event(row, event)
            if row == before:
                continue  # a replay (the spool's, a standby's ring): counted already
            if self.metrics is not None:
                observed.append(("task", event, dict(row), previous_state))
            if counter and row["worker"]:
                self._worker(row["worker"], touched_workers)[counter] += 1
        return list(rows.values()), stored
