"""Parsers from each provider's inbound webhook payload to `InboundMessage`s.

`cm` (CM's MO JSON), `meta` (WhatsApp Cloud, Messenger, Instagram; signatures and the verify handshake),
`sns_sms` (AWS End User Messaging two-way SMS through SNS). Every parser raises only `InvalidPayload`
for input it cannot use, whatever JSON value it is given. The submodules are imported by name, not
here, so a function loads only the parser it needs.
"""

from __future__ import annotations

from trialgw.errors import TrialGatewayError


class InvalidPayload(TrialGatewayError):
    """A webhook payload that is not what the provider documents; `message` says what is wrong and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


__all__ = ["InvalidPayload"]
