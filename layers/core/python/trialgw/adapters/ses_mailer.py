"""The mailer over SES v2: one e-mail with a text and an HTML part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.errors import MailError
from trialgw.ports import OutgoingEmail

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client


class SesMailer:
    def __init__(self, client: SESV2Client, sender: str, configuration_set: str | None = None) -> None:
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, email: OutgoingEmail) -> None:
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            self._client.send_email(**request)
        except (ClientError, BotoCoreError) as error:
            raise MailError(f"SES refused the e-mail: {type(error).__name__}") from error
