"""Mailing a one-time link (an invitation, a password link) when SMTP is configured.

The standard library's ``smtplib`` runs in a thread, with a timeout; a mail that cannot be
sent never undoes what the admin did: the link is in the API's answer either way, and the
answer says whether it was mailed and, if not, why (without the server's own words, which
may quote the message). STARTTLS is required unless ``security`` says otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

log = logging.getLogger("ecoute.triage.mail")


@dataclass(frozen=True, slots=True)
class MailConfig:
    """Where mail goes (no ``host`` or no ``sender``: nothing is mailed)."""

    host: str | None = None
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: str | None = None
    sender: str | None = None
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.sender)


SUBJECTS = {
    "invitation": "You are invited to {workspace} on Écoute",
    "set_password": "Set your Écoute password for {workspace}",
}
BODIES = {
    "invitation": (
        "You are invited to join {workspace} on Écoute, the customer-care desk, as {role}.\n\n"
        "Open this link to choose your password and sign in:\n\n{url}\n\n"
        "The link works once, until {expires}. If you did not expect it, ignore this mail."
    ),
    "set_password": (
        "An admin of {workspace} on Écoute sent you a link to set your password.\n\n{url}\n\n"
        "The link works once, until {expires}. If you did not ask for it, tell your admin."
    ),
}


@dataclass(frozen=True, slots=True)
class Letter:
    """A link to mail: its kind, to whom, the URL, and what the mail says about it."""

    kind: str
    to: str
    url: str
    workspace: str
    role: str
    expires_at: datetime


def compose(config: MailConfig, letter: Letter) -> EmailMessage:
    """The mail that carries a link (plain text: nothing to render, nothing to track)."""
    message = EmailMessage()
    workspace = " ".join(letter.workspace.split())  # a header holds one line
    message["Subject"] = SUBJECTS[letter.kind].format(workspace=workspace)
    message["From"] = config.sender or ""
    message["To"] = letter.to
    message["Message-ID"] = make_msgid(domain="ecoute.local")
    expires = letter.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    body = BODIES[letter.kind]
    message.set_content(
        body.format(workspace=workspace, role=letter.role, url=letter.url, expires=expires)
    )
    return message


def _send_now(config: MailConfig, message: EmailMessage) -> None:
    host = config.host or ""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(host, config.port, timeout=config.timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, config.port, timeout=config.timeout)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.user:
            smtp.login(config.user, config.password or "")
        smtp.send_message(message)


async def mail_link(config: MailConfig, letter: Letter) -> str | None:
    """Mail a link (see ``compose``): None once the server took it, else why not."""
    if not config.enabled:
        return "no SMTP server is configured (TRIAGE_SMTP_HOST, TRIAGE_SMTP_FROM)"
    try:
        message = compose(config, letter)
    except (ValueError, IndexError):  # the standard library's refusal of an address
        return "this address cannot be written in a mail header"
    return await send(config, message)


async def send(config: MailConfig, message: EmailMessage) -> str | None:
    """Mail it: None once the server took it, else why not (logged, without addresses)."""
    try:
        await asyncio.to_thread(_send_now, config, message)
    except (OSError, smtplib.SMTPException) as exc:
        why = f"the SMTP server could not be used ({type(exc).__name__})"
        log.warning("mail not sent", extra={"error_type": type(exc).__name__})
        return why
    return None
