"""The inbox: the edge to the platforms. One folder per area, each with its SQL in ``store.py``.

- ``ingest/``: ``POST /v1/ingest`` (``http``, ``request`` parsing, ``auth`` by inbox token and
  scope) and ``store`` (inbox tokens; ``store_batch``, every message stored exactly once).
- ``channels/``: ``/v1/channels`` (``http``, ``usecases``: own credentials, allowed hosts), the
  ``poller``, ``credentials`` by reference in the workspace's namespace, the health ``gauges``
  and ``store`` (configuration, polling leases, cursors, health).
- ``connectors/``: one client per platform and the ``registry`` (platform → connector class).
- ``delivery/``: the ``deliverer`` (reply requests queued, the delivery loop) and ``store``.
- ``privacy/``: ``erasure`` (erasure requests and retention purges from triage) and ``store``.
- ``webhooks/``: ``/webhooks/{platform}`` (``http``, ``http_x``, ``http_meta``) and the ``hub``.
- ``domain/``: pure rules (the batch plan, threading, polling, each platform's payloads and
  API hosts).
- ``events`` (payloads the inbox publishes), ``metrics``, ``settings``; the composition roots
  ``app``, ``__main__``, ``openapi`` and ``consumer`` (the inbox's one event consumer).
"""
