"""WhatsApp sessions and everything that flows through them, one sub-package per concern.

Each sub-package has the same shape: `models.py`, `services.py` (writes), `selectors.py`
(reads), `tasks.py` (thin), `api/` (DRF views, serializers, urls), `admin.py`, as it needs.

- `sessions/`   sessions and their status: lifecycle, statuses nodes report, timeouts, sandbox phone
- `messages/`   the delivery ledger, payloads for nodes, sending, history and number checks
- `media/`      files sent and received: reading, type and size checks, storage
- `reports/`    the internal API nodes report to (shapes in node_agent/protocol.py)
- `webhooks/`   users' webhooks: endpoints, events, signed deliveries and retries
- `dashboard/`  the web dashboard's pages (the same services as the API)

App-level: `errors.py` (every error code), `reasons.py` (status reasons in words),
`recipients.py` (phone numbers and JIDs), `fields.py` (their serializer fields), `ids.py`,
`api_urls.py` (the public API's URL map), and `models.py`/`admin.py` for Django's registries.
Moving sessions between nodes is `workers_app.fleet`, which calls the services here.
"""
