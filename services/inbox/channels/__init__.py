"""Connected channels: their configuration API, the poller, credentials by reference, and
their SQL (configuration, polling leases, cursors, health)."""
