"""Alert delivery: notifier parsing, the bodies each kind sends (names stay text, no header
injection), and deliveries to real receivers on loopback: an HTTP server and an SMTP server
with STARTTLS and login."""
from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from celery_scope.alerts.delivery import Delivery, Dispatcher, build_email
from celery_scope.alerts.messages import (
    AlertMessage,
    email_body,
    email_subject,
    slack_body,
    webhook_body,
)
from celery_scope.alerts.notifiers import Notifier, parse_notifiers

from .alert_receivers import HttpReceiver, SmtpReceiver
from .helpers import free_port, wait_until

HOSTILE = "<!channel> & <script>alert(1)</script>\r\nBcc: evil@example.com"
TOKEN = "s3cret-token"


def alert(**overrides) -> AlertMessage:
    fields = dict(
        rule="charge failures", status="firing",
        labels={"task": "shop.tasks.charge", "queue": "payments"},
        value=0.34, threshold=0.2, started_at=1_700_000_000.0, ended_at=None,
        url="http://127.0.0.1:5555/tasks?state=FAILURE&name=shop.tasks.charge",
        summary="shop.tasks.charge failed 34% of 52 tasks in 5m (threshold 20%)",
        kind="failure_ratio")
    fields.update(overrides)
    return AlertMessage(**fields)


class Recorded:
    """record() for a Dispatcher: keeps each Delivery."""

    def __init__(self):
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []

    def __call__(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        return wait_until(lambda: len(self.deliveries) >= count and self.deliveries, timeout,
                          f"{count} recorded deliveries")


def webhook(url: str, name: str = "ops", kind: str = "webhook") -> Notifier:
    return parse_notifiers([{"name": name, "kind": kind, "url": url, "timeout": 10}])[0]


# ---- parsing ---------------------------------------------------------------------------

def test_parse_notifiers_reads_each_kind_with_its_defaults():
    hook, slack, mail, plain = parse_notifiers([
        {"name": "ops", "kind": "webhook", "url": "https://hooks.example/celery"},
        {"name": "chat", "kind": "slack", "url": "https://hooks.slack.example/T/B/x"},
        {"name": "mail", "kind": "email", "smtp_host": "smtp.example", "username": "u",
         "password": "p", "from": "Scope <scope@example.com>", "to": "ops@example.com"},
        {"name": "relay", "kind": "email", "smtp_host": "relay", "starttls": False,
         "from": "scope@example.com", "to": ["a@example.com", "b@example.com"],
         "timeout": 3},
    ])
    assert (hook.kind, hook.url, hook.timeout) == ("webhook", "https://hooks.example/celery",
                                                   10.0)
    assert slack.kind == "slack" and slack.host == "hooks.slack.example"
    assert (mail.smtp_port, mail.starttls, mail.username, mail.sender, mail.to) == (
        587, True, "u", "Scope <scope@example.com>", ("ops@example.com",))
    assert (plain.smtp_port, plain.starttls, plain.username, plain.timeout) == (25, False,
                                                                                None, 3.0)
    assert plain.to == ("a@example.com", "b@example.com")


def test_a_notifier_repr_hides_its_url_and_password():
    hook = webhook(f"https://hooks.example/T/B/{TOKEN}")
    mail = Notifier(name="m", kind="email", smtp_host="smtp.example", username="u",
                    password=TOKEN, sender="s@example.com", to=("t@example.com",))
    assert TOKEN not in repr(hook) and TOKEN not in repr(mail)
    assert hook.host == "hooks.example" and mail.host == "smtp.example"
    assert mail.smtp_port == 587


EMAIL = {"name": "mail", "kind": "email", "smtp_host": "smtp.example",
         "from": "scope@example.com", "to": ["ops@example.com"]}


@pytest.mark.parametrize("tables, expected", [
    pytest.param([{"kind": "webhook", "url": "https://x.example"}], "notifier #1: name",
                 id="no name"),
    pytest.param([{"name": "ops", "kind": "pager", "url": "https://x.example"}],
                 "notifier 'ops': unknown kind 'pager'", id="unknown kind"),
    pytest.param([{"name": "ops", "kind": "webhook"}], "notifier 'ops': url is missing",
                 id="missing url"),
    pytest.param([{"name": "ops", "kind": "webhook", "url": "x", "colour": "red"}],
                 "notifier 'ops': unknown key 'colour'", id="unknown key"),
    pytest.param([{"name": "ops", "kind": "webhook", "url": "https://x.example",
                   "smtp_host": "smtp"}], "unknown key 'smtp_host' for a webhook notifier",
                 id="another kind's key"),
    pytest.param([{"name": "ops", "kind": "webhook", "url": "https://x.example"},
                  {"name": "ops", "kind": "slack", "url": "https://y.example"}],
                 "notifier 'ops': the name is used twice", id="duplicate name"),
    pytest.param([{**EMAIL, "to": ["ops@example.com", "not an address"]}],
                 "notifier 'mail': bad address 'not an address' in to", id="bad address"),
    pytest.param([{**EMAIL, "from": "scope@example.com\r\nBcc: evil@example.com"}],
                 "notifier 'mail': bad address", id="address with a newline"),
    pytest.param([{**EMAIL, "to": []}], "notifier 'mail': to is missing", id="no recipient"),
    pytest.param([{k: v for k, v in EMAIL.items() if k != "from"}],
                 "notifier 'mail': from is missing", id="no sender"),
    pytest.param([{k: v for k, v in EMAIL.items() if k != "smtp_host"}],
                 "notifier 'mail': smtp_host is missing", id="no host"),
    pytest.param([{**EMAIL, "smtp_port": 70000}], "smtp_port must be a port number",
                 id="bad port"),
    pytest.param([{**EMAIL, "username": "u"}], "username and password go together",
                 id="user without password"),
    pytest.param([{**EMAIL, "starttls": "yes"}], "starttls must be true or false",
                 id="flag not a boolean"),
    pytest.param([{"name": "ops", "kind": "webhook", "url": "https://x.example",
                   "timeout": 0}], "timeout must be a positive number", id="zero timeout"),
    pytest.param(["ops"], "notifier #1: expected a table", id="not a table"),
])
def test_parse_notifiers_names_the_notifier_and_its_problem(tables, expected):
    with pytest.raises(ValueError) as caught:
        parse_notifiers(tables)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bad_url_is_refused_without_quoting_its_token():
    with pytest.raises(ValueError) as caught:
        parse_notifiers([{"name": "ops", "kind": "slack", "url": f"ftp://hooks/{TOKEN}"}])
    assert "http:// or https://" in str(caught.value) and TOKEN not in str(caught.value)


# ---- bodies ----------------------------------------------------------------------------

def test_the_webhook_body_has_the_documented_fields_and_names_stay_text():
    message = alert(rule=HOSTILE, labels={"task": HOSTILE}, value=float("nan"))
    body = webhook_body(message)
    assert set(body) == {"source", "rule", "kind", "status", "labels", "value", "threshold",
                         "started_at", "ended_at", "url", "summary"}
    assert body["source"] == "celery-scope"
    assert json.loads(json.dumps(body, allow_nan=False))["labels"] == {"task": HOSTILE}
    assert body["rule"] == HOSTILE and body["value"] is None and body["threshold"] == 0.2


def test_the_slack_body_escapes_every_name_and_formats_none():
    body = slack_body(alert(rule=HOSTILE, labels={"task": HOSTILE}, summary=HOSTILE))
    texts = [body["text"]]
    for block in body["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else []
        texts += [element["text"] for element in block.get("elements", [])]
    assert all("<!channel>" not in text and "<script>" not in text for text in texts)
    assert "&lt;!channel&gt; &amp; &lt;script&gt;" in body["text"]
    user_text = [block["text"] for block in body["blocks"] if "text" in block]
    assert all(text["type"] == "plain_text" for text in user_text)  # no mrkdwn: _a_ stays _a_
    assert body["blocks"][0]["type"] == "header"
    link = body["blocks"][-1]["elements"][0]["text"]
    assert link == ("<http://127.0.0.1:5555/tasks?state=FAILURE&amp;name=shop.tasks.charge"
                    "|Open in celery-scope>")


def test_the_slack_header_keeps_to_slacks_limit_without_splitting_an_entity():
    header = slack_body(alert(rule="&" * 400))["blocks"][0]["text"]["text"]
    assert len(header) <= 150
    assert header.endswith("&amp;…")


def test_the_email_subject_is_one_line_and_the_body_plain_text():
    message = alert(rule=HOSTILE, labels={"task": "a\nFAKE LINE"}, status="resolved",
                    ended_at=1_700_000_300.0)
    subject = email_subject(message)
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith("[celery-scope] RESOLVED: <!channel> & <script>")
    body = email_body(message)
    assert "<!channel> & <script>alert(1)</script>  Bcc: evil@example.com" in body
    assert "task: a FAKE LINE" in body and "\nFAKE LINE" not in body
    assert "Started: 2023-11-14 22:13:20 UTC" in body
    assert "Resolved: 2023-11-14 22:18:20 UTC" in body
    assert "Value: 0.34" in body and "Threshold: 0.2" in body
    assert "Open: http://127.0.0.1:5555/tasks?state=FAILURE&name=shop.tasks.charge" in body


def test_a_task_name_cannot_inject_an_email_header():
    mail_notifier = parse_notifiers([EMAIL])[0]
    raw = build_email(mail_notifier, alert(rule=HOSTILE)).as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\r\nBcc:" not in headers
    assert headers.count(b"Subject:") == 1
    assert b"Content-Type: text/plain" in headers


# ---- deliveries over HTTP ----------------------------------------------------------------

@pytest.mark.integration
def test_a_webhook_receives_one_firing_body_with_the_documented_fields():
    recorded = Recorded()
    with HttpReceiver() as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, backoff=0.05)
        message = alert()
        dispatcher.send(["ops"], message)
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        [request] = receiver.requests
    assert (delivery.ok, delivery.attempts, delivery.error) == (True, 1, "")
    assert (delivery.rule, delivery.notifier, delivery.status) == ("charge failures", "ops",
                                                                   "firing")
    assert request.method == "POST" and request.path == f"/hooks/T000/B000/{TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == webhook_body(message)
    assert request.json()["status"] == "firing" and request.json()["value"] == 0.34
    assert dispatcher.failures() == {"ops": 0}


@pytest.mark.integration
@pytest.mark.parametrize("fail_status", [500, 429, 408])
def test_a_webhook_that_fails_once_is_retried_and_delivered(fail_status):
    recorded = Recorded()
    with HttpReceiver(fail_first=1, fail_status=fail_status) as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, backoff=0.05)
        dispatcher.send(["ops"], alert())
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        assert len(receiver.requests) == 2
    assert (delivery.ok, delivery.attempts) == (True, 2)
    assert dispatcher.failures() == {"ops": 0}


@pytest.mark.integration
def test_a_webhook_that_always_fails_is_given_up_after_the_attempts(caplog):
    caplog.set_level(logging.INFO)  # the level celery-scope logs at
    recorded = Recorded()
    with HttpReceiver(status=500) as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, attempts=3,
                                backoff=0.05)
        dispatcher.send(["ops"], alert())
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        assert len(receiver.requests) == 3
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == "HTTP 500 from 127.0.0.1"  # the host, never the URL's token
    assert dispatcher.failures() == {"ops": 1}
    assert "given up after 3 attempt(s): HTTP 500 from 127.0.0.1" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.integration
def test_a_webhook_answering_400_is_not_retried():
    recorded = Recorded()
    with HttpReceiver(status=400) as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, backoff=0.05)
        dispatcher.send(["ops"], alert())
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        assert len(receiver.requests) == 1
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 1,
                                                                "HTTP 400 from 127.0.0.1")


@pytest.mark.integration
def test_a_receiver_that_is_down_is_retried_then_given_up():
    recorded = Recorded()
    url = f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"  # nothing listens there
    dispatcher = Dispatcher([webhook(url)], record=recorded, attempts=3, backoff=0.05)
    dispatcher.send(["ops"], alert())
    [delivery] = recorded.wait(1)
    dispatcher.stop()
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == "cannot connect to 127.0.0.1"


@pytest.mark.integration
def test_messages_to_one_notifier_keep_their_order_through_retries():
    recorded = Recorded()
    with HttpReceiver(fail_first=1) as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, backoff=0.05)
        dispatcher.send(["ops"], alert())
        dispatcher.send(["ops"], alert(status="resolved", ended_at=1_700_000_300.0))
        recorded.wait(2)
        dispatcher.stop()
        statuses = [request.json()["status"] for request in receiver.requests]
    assert statuses == ["firing", "firing", "resolved"]
    assert [d.status for d in recorded.deliveries] == ["firing", "resolved"]


def test_an_unknown_notifier_is_recorded_as_a_failure_not_raised():
    recorded = Recorded()
    dispatcher = Dispatcher([], record=recorded)
    dispatcher.send(["nobody"], alert())
    dispatcher.stop()
    [delivery] = recorded.deliveries  # recorded by send() itself
    assert (delivery.ok, delivery.attempts, delivery.notifier) == (False, 0, "nobody")
    assert delivery.error == "no notifier named 'nobody'"
    assert dispatcher.failures() == {"nobody": 1}


@pytest.mark.integration
def test_stop_gives_up_a_message_waiting_on_a_long_backoff_at_once():
    recorded = Recorded()
    with HttpReceiver(status=503) as receiver:
        dispatcher = Dispatcher([webhook(receiver.url())], record=recorded, backoff=60)
        dispatcher.send(["ops"], alert())
        receiver.wait_for_requests(1)
        started = time.monotonic()
        dispatcher.stop(timeout=0.2)
        took = time.monotonic() - started
        [delivery] = recorded.wait(1)
    assert took < 5
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == "HTTP 503 from 127.0.0.1; deliveries stopped before try 2"
    dispatcher.send(["ops"], alert())
    assert recorded.deliveries[-1].error == "not sent: deliveries have stopped"


@pytest.mark.integration
def test_a_slack_notifier_posts_slacks_format():
    recorded = Recorded()
    with HttpReceiver() as receiver:
        dispatcher = Dispatcher([webhook(receiver.url(), name="chat", kind="slack")],
                                record=recorded, backoff=0.05)
        message = alert(labels={"task": "<@U123>"})
        dispatcher.send(["chat"], message)
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        [request] = receiver.requests
    assert delivery.ok
    body = request.json()
    assert body == slack_body(message)
    assert body["text"].startswith("FIRING: charge failures — shop.tasks.charge failed 34%")
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "section",
                                                           "context"]
    assert "task: &lt;@U123&gt;" in body["blocks"][2]["text"]["text"]


# ---- deliveries over SMTP ----------------------------------------------------------------

def email_notifier(port: int, password: str = SmtpReceiver.PASSWORD, **options) -> Notifier:
    table = {"name": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port,
             "username": SmtpReceiver.USER, "password": password, "tls_verify": False,
             "from": "celery-scope <scope@example.com>",
             "to": ["ops@example.com", "oncall@example.com"], **options}
    return parse_notifiers([table])[0]


@pytest.mark.integration
def test_an_email_arrives_over_starttls_with_login(tmp_path):
    recorded = Recorded()
    with SmtpReceiver(tmp_path) as server:
        dispatcher = Dispatcher([email_notifier(server.port)], record=recorded, backoff=0.05)
        message = alert(rule=HOSTILE)
        dispatcher.send(["mail"], message)
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        [mail] = server.mails
    assert (delivery.ok, delivery.attempts, delivery.error) == (True, 1, "")
    assert mail.tls and mail.login == SmtpReceiver.USER
    assert mail.rcpt_tos == ("ops@example.com", "oncall@example.com")  # no injected Bcc
    assert mail.mail_from == "scope@example.com"
    assert mail.message["Subject"] == email_subject(message)
    assert mail.message["To"] == "ops@example.com, oncall@example.com"
    assert mail.message["Bcc"] is None and mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "text/plain"
    wire_text = mail.message.get_content()  # lines end in CRLF on the wire
    assert wire_text.replace("\r\n", "\n") == email_body(message)


@pytest.mark.integration
def test_a_wrong_password_is_recorded_as_a_failure_without_retries(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    recorded = Recorded()
    with SmtpReceiver(tmp_path) as server:
        dispatcher = Dispatcher([email_notifier(server.port, password=TOKEN)],
                                record=recorded, backoff=0.05)
        dispatcher.send(["mail"], alert())
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        assert server.mails == []
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error.startswith(f"SMTP 535 from 127.0.0.1:{server.port}: ")
    assert TOKEN not in delivery.error and TOKEN not in caplog.text
    assert "given up after 1 attempt(s): SMTP 535" in caplog.text
    assert dispatcher.failures() == {"mail": 1}


@pytest.mark.integration
def test_an_untrusted_certificate_is_refused_when_tls_is_verified(tmp_path):
    recorded = Recorded()
    with SmtpReceiver(tmp_path) as server:
        dispatcher = Dispatcher([email_notifier(server.port, tls_verify=True)],
                                record=recorded, backoff=0.05)
        dispatcher.send(["mail"], alert())
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        assert server.mails == []
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == (f"TLS with 127.0.0.1:{server.port} failed: "
                              "CERTIFICATE_VERIFY_FAILED")


@pytest.mark.integration
def test_an_email_without_starttls_or_login_goes_to_a_plain_relay():
    recorded = Recorded()
    with SmtpReceiver() as server:
        notifier = parse_notifiers([{"name": "relay", "kind": "email",
                                     "smtp_host": "127.0.0.1", "smtp_port": server.port,
                                     "starttls": False, "from": "scope@example.com",
                                     "to": "ops@example.com"}])[0]
        dispatcher = Dispatcher([notifier], record=recorded, backoff=0.05)
        dispatcher.send(["relay"], alert(status="resolved", ended_at=1_700_000_300.0))
        [delivery] = recorded.wait(1)
        dispatcher.stop()
        [mail] = server.mails
    assert delivery.ok and not mail.tls and mail.login is None
    assert mail.message["Subject"] == "[celery-scope] RESOLVED: charge failures"
