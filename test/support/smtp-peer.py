"""An SMTP server for Sluice's tests (aiosmtpd, Debian's python3-aiosmtpd).

argv: port, mode ("plain", "starttls": STARTTLS required, "implicit": TLS from the first
byte), then for the TLS modes cert and key files, then optionally user and password (AUTH
required). Prints "listening" once, then one JSON line per message accepted:
{mailFrom, rcptTos, subject, messageId, from, to, contentType, body, headers}.
Recipients whose local part starts with "refuse" get 550, with "later" 451.
"""
import json
import ssl
import sys
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, mode = int(sys.argv[1]), sys.argv[2]
rest = sys.argv[3:]
context = None
if mode in ("starttls", "implicit"):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(rest[0], rest[1])
    rest = rest[2:]
credentials = (rest[0].encode(), rest[1].encode()) if len(rest) >= 2 else None


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("refuse"):
            return "550 5.1.1 No such mailbox"
        if local.startswith("later"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        print(json.dumps({
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "subject": message["Subject"],
            "messageId": message["Message-ID"],
            "from": message["From"],
            "to": message["To"],
            "contentType": message.get_content_type(),
            "body": message.get_content(),
            "headers": {k: str(v) for k, v in message.items()},
        }, default=text), flush=True)
        return "250 Message accepted"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = credentials is not None and (auth_data.login, auth_data.password) == credentials
    return AuthResult(success=ok, handled=False)


kwargs = {}
if credentials:
    kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
if mode == "starttls":
    kwargs.update(tls_context=context, require_starttls=True)
elif mode == "implicit":
    kwargs.update(ssl_context=context)
controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
controller.start()
print("listening", flush=True)
threading.Event().wait()
