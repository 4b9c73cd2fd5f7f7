"""Sending email: SMTP when MAIL_SERVER is set; in development, printed and kept on disk."""

import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from server.clock import utcnow


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="haven.local")
    message.set_content(body)
    return message


def send_mail(to: str, subject: str, body: str) -> None:
    message = build_message(to, subject, body)
    if current_app.config["MAIL_SERVER"]:
        _send_smtp(message)
    else:
        _keep_for_developer(message)


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(
        config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
    ) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def _keep_for_developer(message: EmailMessage) -> None:
    folder = current_app.config["MAIL_DEV_DIR"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
    path.write_bytes(bytes(message))
    print(f"\n--- email kept at {path} ---\n{message}\n--- end of email ---", file=sys.stderr)
