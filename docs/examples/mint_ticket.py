#!/usr/bin/env python3
"""Mint a Sluice sign-in ticket (format: docs/tickets.md).

Usage: MFT_TICKET_SECRET=... python3 mint_ticket.py <userName> [siteName]
Needs the `cryptography` package (Debian: python3-cryptography; pip: cryptography).
"""
import base64
import os
import sys
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"


def escape(text):
    # "&" first. Quotes need no escaping in element text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mint_ticket(secret, user_name, site_name="", now=None):
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    plaintext = (
        f'<token timestamp="{now:%m/%d/%Y %H:%M:%S}">'
        f"<sitename>{escape(site_name)}</sitename>"
        f"<username>{escape(user_name)}</username></token>"
    )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sluice-ticket", info=b"aes-256-gcm v1").derive(
        secret.encode("utf-8")
    )
    nonce = os.urandom(12)
    sealed = VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), VERSION)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: MFT_TICKET_SECRET=... mint_ticket.py <userName> [siteName]")
    secret = os.environ.get("MFT_TICKET_SECRET", "")
    if len(secret) < 16:
        fail("MFT_TICKET_SECRET must be set to at least 16 characters")
    print(mint_ticket(secret, sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else ""))


if __name__ == "__main__":
    main()
