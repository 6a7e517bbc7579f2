"""Delivering alert messages: a queue and a thread per notifier, retries with exponential
backoff, and a record of every message delivered or given up.

The evaluator never waits on a receiver: `send` only queues. A thread per notifier keeps a
receiver that is down (and retried for a minute) from delaying the others, and keeps each
notifier's messages in order, so a "resolved" never overtakes its "firing". What is
retried follows HTTP and SMTP: a 5xx HTTP answer, 408, 429, a 4xx SMTP reply and a lost
connection are worth another try; any other 4xx HTTP answer and a 5xx SMTP reply (a wrong
password, a refused sender) will not change, so they are given up at once. Errors name the
receiver's host and the answer, never its URL (which may hold a token) nor a password.
"""
from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import requests

from .messages import AlertMessage, email_body, email_subject, slack_body, webhook_body
from .notifiers import Notifier

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # messages waiting for one notifier; past that, new ones are given up
STOP_GRACE = 1.0  # seconds stop() waits, once its timeout has passed, for threads to notice
RETRIED_HTTP = frozenset({408, 429})  # besides 5xx: the receiver asks to be tried again
REPLY_LIMIT = 200  # characters of an SMTP reply kept in an error


@dataclass(frozen=True)
class Delivery:
    """One message to one notifier, delivered or given up."""
    at: float  # epoch seconds, when it was delivered or given up
    rule: str
    notifier: str
    status: str  # the message's status: "firing" | "resolved"
    ok: bool
    attempts: int
    error: str  # "" when delivered cleanly


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""
    ok: bool
    retry: bool = False
    error: str = ""
    wait: float | None = None  # seconds the receiver asked for (Retry-After)


class Dispatcher:
    """Queues messages per notifier and delivers them in background threads."""

    def __init__(self, notifiers: Sequence[Notifier],
                 record: Callable[[Delivery], None] | None = None,
                 attempts: int = 5, backoff: float = 1.0, max_backoff: float = 60.0):
        self._notifiers = {notifier.name: notifier for notifier in notifiers}
        self._record = record
        self._attempts = max(1, attempts)
        self._backoff = backoff  # seconds before the second try; doubled for each next one
        self._max_backoff = max_backoff
        self._failures = dict.fromkeys(self._notifiers, 0)
        self._lock = threading.Lock()
        self._closed = False
        self._abort = threading.Event()
        self._queues: dict[str, queue.Queue[AlertMessage | None]] = {}
        self._threads: list[threading.Thread] = []
        for notifier in self._notifiers.values():
            lane: queue.Queue[AlertMessage | None] = queue.Queue()
            thread = threading.Thread(target=self._run, args=(notifier, lane), daemon=True,
                                      name=f"alert-notifier-{notifier.name}")
            self._queues[notifier.name] = lane
            self._threads.append(thread)
            thread.start()

    def send(self, names: Sequence[str], message: AlertMessage) -> None:
        """Queue `message` for each named notifier; never blocks, never raises. An unknown
        name, a stopped dispatcher or a full queue is recorded as a failure."""
        for name in dict.fromkeys(names):
            with self._lock:
                lane = self._queues.get(name)
                if lane is None:
                    problem = f"no notifier named {name!r}"
                elif self._closed:
                    problem = "not sent: deliveries have stopped"
                elif lane.qsize() >= QUEUE_LIMIT:
                    problem = f"not sent: {QUEUE_LIMIT} messages already wait for this notifier"
                else:
                    lane.put(message)
                    continue
            self._finish(Delivery(time.time(), message.rule, name, message.status, False, 0,
                                  problem))

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within `timeout` seconds, then give up the rest
        (each recorded) and stop the threads."""
        with self._lock:
            self._closed = True
            for lane in self._queues.values():
                lane.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._abort.set()
        deadline = time.monotonic() + STOP_GRACE
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s is still waiting on its receiver; it stops after that try",
                            thread.name)

    def failures(self) -> dict[str, int]:
        """Notifier name -> messages given up since start."""
        with self._lock:
            return dict(self._failures)

    def _run(self, notifier: Notifier, lane: queue.Queue[AlertMessage | None]) -> None:
        while (message := lane.get()) is not None:
            if self._abort.is_set():
                self._finish(Delivery(time.time(), message.rule, notifier.name, message.status,
                                      False, 0, "not sent: deliveries stopped before its turn"))
            else:
                self._finish(self._deliver(notifier, message))

    def _deliver(self, notifier: Notifier, message: AlertMessage) -> Delivery:
        tries = 0
        while True:
            tries += 1
            outcome = attempt(notifier, message)
            error = outcome.error
            if outcome.ok or not outcome.retry or tries >= self._attempts:
                break
            if self._abort.wait(self._delay(tries, outcome.wait)):
                error = f"{error}; deliveries stopped before try {tries + 1}"
                break
        return Delivery(time.time(), message.rule, notifier.name, message.status, outcome.ok,
                        tries, error)

    def _delay(self, tries: int, asked: float | None) -> float:
        delay = min(self._max_backoff, self._backoff * 2 ** (tries - 1))
        if asked is not None:
            delay = max(delay, min(asked, self._max_backoff))
        return delay

    def _finish(self, delivery: Delivery) -> None:
        if delivery.ok:
            log.debug("alert %r (%s) delivered to %r in %d attempt(s)", delivery.rule,
                      delivery.status, delivery.notifier, delivery.attempts)
        else:
            with self._lock:
                self._failures[delivery.notifier] = self._failures.get(delivery.notifier, 0) + 1
            log.warning("alert %r (%s) to notifier %r given up after %d attempt(s): %s",
                        delivery.rule, delivery.status, delivery.notifier, delivery.attempts,
                        delivery.error)
        if self._record is not None:
            try:
                self._record(delivery)
            except Exception:  # noqa: BLE001 — a record that fails must not stop deliveries
                log.exception("recording the delivery of alert %r to %r failed",
                              delivery.rule, delivery.notifier)


def attempt(notifier: Notifier, message: AlertMessage) -> Outcome:
    """One try at delivering `message` through `notifier`; never raises."""
    try:
        if notifier.kind == "email":
            return _mail(notifier, message)
        body = slack_body(message) if notifier.kind == "slack" else webhook_body(message)
        return _post(notifier, body)
    except Exception as exc:  # noqa: BLE001 — a bug here must not kill the notifier's thread
        log.exception("delivering alert %r to %r failed unexpectedly", message.rule,
                      notifier.name)
        return Outcome(ok=False, error=f"{type(exc).__name__} while sending to {notifier.host}")


def _post(notifier: Notifier, body: dict) -> Outcome:
    """POST `body` as JSON; requests' exceptions are not quoted (they hold the URL)."""
    host = notifier.host
    try:
        response = requests.post(notifier.url or "", json=body, timeout=notifier.timeout,
                                 verify=notifier.tls_verify, allow_redirects=False,
                                 headers={"User-Agent": "celery-scope"})
    except requests.Timeout:
        return Outcome(ok=False, retry=True,
                       error=f"no answer from {host} within {notifier.timeout:g} s")
    except requests.exceptions.SSLError:
        return Outcome(ok=False, error=f"TLS with {host} failed (its certificate is not trusted?)")
    except requests.ConnectionError:
        return Outcome(ok=False, retry=True, error=f"cannot connect to {host}")
    except requests.RequestException as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__} posting to {host}")
    with response:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(ok=True)
        return Outcome(ok=False, retry=status >= 500 or status in RETRIED_HTTP,
                       error=f"HTTP {status} from {host}",
                       wait=_retry_after(response.headers.get("Retry-After")))


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (its date form is rare from webhooks and is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _mail(notifier: Notifier, message: AlertMessage) -> Outcome:
    where = f"{notifier.host}:{notifier.smtp_port}"
    try:
        refused = _smtp_send(notifier, build_email(notifier, message))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return Outcome(ok=False, retry=all(400 <= code < 500 for code in codes),
                       error=f"SMTP server {where} refused every recipient "
                             f"({', '.join(str(code) for code in codes)})")
    except smtplib.SMTPResponseException as exc:
        return Outcome(ok=False, retry=400 <= exc.smtp_code < 500,
                       error=f"SMTP {exc.smtp_code} from {where}: {_reply(exc.smtp_error)}")
    except ssl.SSLError as exc:
        return Outcome(ok=False, error=f"TLS with {where} failed: {exc.reason or exc}")
    except smtplib.SMTPServerDisconnected:
        return Outcome(ok=False, retry=True, error=f"{where} closed the connection")
    except smtplib.SMTPException as exc:  # smtplib's own fixed texts (no STARTTLS, no AUTH)
        return Outcome(ok=False, error=f"{where}: {exc}")
    except OSError as exc:  # refused, unreachable, timed out
        return Outcome(ok=False, retry=True,
                       error=f"cannot reach {where}: {exc.strerror or type(exc).__name__}")
    if refused:
        return Outcome(ok=True, error=f"{where} refused {', '.join(sorted(refused))}")
    return Outcome(ok=True)


def _smtp_send(notifier: Notifier, mail: EmailMessage) -> dict:
    """Connect, STARTTLS and log in as configured, send; the refused recipients."""
    smtp = smtplib.SMTP(notifier.smtp_host or "", notifier.smtp_port or 0,
                        timeout=notifier.timeout)
    try:
        if notifier.starttls:
            smtp.starttls(context=_tls_context(notifier))
        if notifier.username:
            smtp.login(notifier.username, notifier.password or "")
        return smtp.send_message(mail)
    finally:
        try:
            smtp.quit()  # the message is sent: a failed goodbye is no reason to send it again
        except (smtplib.SMTPException, OSError):
            smtp.close()


def build_email(notifier: Notifier, message: AlertMessage) -> EmailMessage:
    """The plain-text e-mail for `message`; header values are single lines (the subject is
    made so; addresses are checked when the notifier is parsed)."""
    mail = EmailMessage()
    mail["From"] = notifier.sender or ""
    mail["To"] = ", ".join(notifier.to)
    mail["Subject"] = email_subject(message)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=parseaddr(notifier.sender or "")[1].rpartition("@")[2])
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
    mail.set_content(email_body(message))
    return mail


def _tls_context(notifier: Notifier) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not notifier.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reply(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(text.split())
    return line if len(line) <= REPLY_LIMIT else line[:REPLY_LIMIT - 1] + "…"
