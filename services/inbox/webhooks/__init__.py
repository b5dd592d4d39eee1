"""Platform webhooks: ``/webhooks/{platform}``, one receiver module per platform."""
