"""Real receivers for alert notifications on loopback: an HTTP server that records the
requests it gets (and can answer errors), and an SMTP server (aiosmtpd) with STARTTLS and
login that records the messages it accepts. Both are context managers that stop their
servers."""
from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509  # authlib's dependency, so always installed
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .helpers import free_port, wait_until


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class HttpReceiver:
    """A `ThreadingHTTPServer` on a free 127.0.0.1 port. It answers the first `fail_first`
    requests with `fail_status`, the others with `status`; `headers` go with every answer
    (e.g. Retry-After)."""

    def __init__(self, status: int = 200, fail_first: int = 0, fail_status: int = 500,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.answer_headers = headers or {}
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the receiver is not started"
        return self._server.server_address[1]

    def url(self, path: str = "/hooks/T000/B000/s3cret-token") -> str:
        """The receiver's URL; the default path looks like a Slack webhook's, token included."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> list[ReceivedRequest]:
        return wait_until(lambda: len(self.requests) >= count and self.requests, timeout,
                          f"{count} request(s) at the HTTP receiver")

    def _answer(self, request: ReceivedRequest) -> int:
        with self._lock:
            self._requests.append(request)
            return self.fail_status if len(self._requests) <= self.fail_first else self.status

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                request = ReceivedRequest(self.command, self.path, dict(self.headers.items()),
                                          self.rfile.read(length))
                status = receiver._answer(request)
                body = b"ok" if status < 300 else b"no"
                self.send_response(status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # noqa: A002 — quiet: the tests read requests
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="http-receiver")  # quick shutdown
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage  # parsed with email.policy.default
    raw: bytes
    login: str | None  # who logged in, None without AUTH
    tls: bool  # whether STARTTLS was done before the message


class _Recorder:
    """aiosmtpd's handler: keeps every accepted message."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mails: list[ReceivedMail] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's naming
        raw = envelope.original_content or envelope.content
        login = session.auth_data.login.decode() if session.authenticated else None
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos),
                            email.message_from_bytes(raw, policy=email.policy.default), raw,
                            login, session.ssl is not None)
        with self.lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on a free 127.0.0.1 port. With `directory` (for a self-signed certificate)
    it offers STARTTLS and then AUTH PLAIN / LOGIN for USER / PASSWORD only; both are
    required when `require_login`."""

    USER = "scope-alerts"
    PASSWORD = "pa55-w0rd-s3cret"

    def __init__(self, directory: Path | None = None, require_login: bool = True):
        self.port = free_port()
        self._recorder = _Recorder()
        options: dict = {}
        if directory is not None:
            options = {"tls_context": server_tls_context(directory),
                       "require_starttls": require_login, "auth_required": require_login,
                       "authenticator": self._authenticate}
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port,
                                      server_hostname="smtp.test", ready_timeout=30,
                                      **options)

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._recorder.lock:
            return list(self._recorder.mails)

    def wait_for_mails(self, count: int, timeout: float = 30.0) -> list[ReceivedMail]:
        return wait_until(lambda: len(self.mails) >= count and self.mails, timeout,
                          f"{count} message(s) at the SMTP receiver")

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        accepted = (isinstance(auth_data, LoginPassword)
                    and auth_data.login == self.USER.encode()
                    and auth_data.password == self.PASSWORD.encode())
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


def server_tls_context(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 / localhost,
    written in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
