"""An email backend whose provider refuses every message, naming the recipients."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        recipients = ", ".join(address for message in email_messages for address in message.to)
        raise smtplib.SMTPDataError(554, f"message for {recipients} rejected")
