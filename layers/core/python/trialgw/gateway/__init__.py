"""The trial send gateway's pure parts: CM Business Messaging requests in, CM's response envelope out.

`request` turns an HTTP body (and the `X-CM-PRODUCTTOKEN` header) into a `SendRequest` or a refusal;
`answers` holds the seed's exact texts and builds every answer in CM's `{details, errorCode, messages}`
shape. Neither touches AWS; the send use case combines them with the key, quota and whitelist checks.
The submodules are imported by name, not here, so importing the package costs nothing.
"""

from __future__ import annotations
