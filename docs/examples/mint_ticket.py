#!/usr/bin/env python3
"""Mint a Sluice sign-in ticket, format version 2 (docs/tickets.md).

Usage:
  MFT_TICKET_SECRET=... python3 mint_ticket.py <applicationId> <userName> [siteName]
      a ticket for OpenWithTicket (an existing user, by user name)
  MFT_TICKET_SECRET=... python3 mint_ticket.py <applicationId> --email <emailAddress> <firstName> <lastName> [siteName]
      a ticket for OpenWithTicketEx (the call must repeat the same e-mail address and names;
      pass "" for an empty name)
Prints only the ticket; a usage error is one line on stderr and exit status 2.
Needs the `cryptography` package (Debian: python3-cryptography; pip: cryptography).
"""
import base64
import os
import re
import sys
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x02"
USAGE = (
    "usage: MFT_TICKET_SECRET=... mint_ticket.py <applicationId> <userName> [siteName]"
    " | <applicationId> --email <emailAddress> <firstName> <lastName> [siteName]"
)


def escape(text):
    # "&" first. Quotes need no escaping in element text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def seal(secret, plaintext):
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sluice-ticket", info=b"aes-256-gcm v1").derive(
        secret.encode("utf-8")
    )
    nonce = os.urandom(12)
    sealed = VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), VERSION)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def token(application_id, subject, site_name, now):
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return (
        f'<token timestamp="{now:%m/%d/%Y %H:%M:%S}">'
        f"<sitename>{escape(site_name)}</sitename>"
        f"<applicationid>{int(application_id)}</applicationid>{subject}</token>"
    )


def mint_ticket(secret, application_id, user_name, site_name="", now=None):
    """A ticket for OpenWithTicket."""
    subject = f"<username>{escape(user_name)}</username>"
    return seal(secret, token(application_id, subject, site_name, now))


def mint_ticket_ex(secret, application_id, email_address, first_name, last_name, site_name="", now=None):
    """A ticket for OpenWithTicketEx."""
    subject = (
        f"<emailaddress>{escape(email_address)}</emailaddress>"
        f"<firstname>{escape(first_name)}</firstname>"
        f"<lastname>{escape(last_name)}</lastname>"
    )
    return seal(secret, token(application_id, subject, site_name, now))


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def main():
    args = sys.argv[1:]
    email = len(args) >= 2 and args[1] == "--email"
    if len(args) not in ((5, 6) if email else (2, 3)):
        fail(USAGE)
    if not re.fullmatch(r"[1-9][0-9]{0,9}", args[0]) or int(args[0]) > 2147483647:
        fail(f"applicationId must be an integer from 1 to 2147483647; {USAGE}")
    secret = os.environ.get("MFT_TICKET_SECRET", "")
    if len(secret) < 16:
        fail("MFT_TICKET_SECRET must be set to at least 16 characters")
    if email:
        print(mint_ticket_ex(secret, int(args[0]), *args[2:]))
    else:
        print(mint_ticket(secret, int(args[0]), *args[1:]))


if __name__ == "__main__":
    main()
