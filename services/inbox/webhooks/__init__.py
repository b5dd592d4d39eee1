"""Platform webhooks: ``/webhooks/{platform}``, one receiver module per platform (``http_x``,
``http_meta``) storing through the hub."""
