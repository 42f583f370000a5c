"""Channel delivery: the providers that hand a queued message to a channel, behind one port."""
