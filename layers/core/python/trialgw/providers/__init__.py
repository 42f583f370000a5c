"""Channel providers, one package each: `sandbox`, `cm`, `meta`, `aws_sms`.

A provider package holds everything about its provider: its facts in `__init__` (a `ProviderSpec`: the secret
keys and settings it needs, its webhook routes and secrets, how its `Provider` is built), its delivery adapter
(`delivery`), its status-report parser (`status`) and its inbound webhook parser (`inbound`). Submodules are
imported by name, not here, so a function loads only what it uses.

The shared core beside them: the port (`port`: Provider, Delivered, DeliveryFailed, SmsSenders), `status`
(StatusReport), `masking` (the one masking helper for providers' texts), `spec` (ProviderSpec) and `registry`
(which provider carries each channel, their credentials, and the keys every spec declares).
"""
