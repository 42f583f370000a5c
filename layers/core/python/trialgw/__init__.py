"""trialgw: the shared code of the messaging trial gateway's Lambda functions (the `core` layer)."""
