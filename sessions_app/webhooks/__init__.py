"""User webhooks: endpoints, events, signed deliveries with retries, and their log."""
