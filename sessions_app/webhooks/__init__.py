"""Users' webhooks: endpoints, the events fanned out to them, signed deliveries with retries.

Modules, in the order a dependency runs (no module imports one above it):
`events.py` (emit, replay) → `tasks.py` (the `webhooks` queue) → `delivery.py` (one attempt,
retries, the sweep) → `client.py` (one HTTP POST) and `endpoints.py` (create, change, disable,
rotate) → `signing.py` (secrets, Standard Webhooks signatures) and `models.py`.
"""
