"""Settings of user webhooks: retries, timeouts, sweeps and retention."""

from __future__ import annotations

from gateway.settings.base import env

# --- User webhooks --------------------------------------------------------------------------
# Waits before each automatic attempt (the first is immediate): the retry schedule Svix, the
# authors of Standard Webhooks, publish (docs.svix.com/retries: now, 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h), extended with 10 h steps to cover three days (about 78 h, 13 attempts).
WEBHOOK_RETRY_SCHEDULE_S = env.list(
    "WEBHOOK_RETRY_SCHEDULE_S",
    cast=float,
    default=[0, 5, 300, 1800, 7200, 18000] + [36000] * 7,
)
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.2)  # ± share of each wait
WEBHOOK_RETRY_AFTER_MAX_S = env.float("WEBHOOK_RETRY_AFTER_MAX_S", default=36000.0)
# Attempts in flight per endpoint at most, so a slow receiver holds that many delivery threads.
WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = env.int("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT", default=2)
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)  # per attempt, whole exchange
WEBHOOK_SWEEP_INTERVAL_S = env.float("WEBHOOK_SWEEP_INTERVAL_S", default=5.0)
WEBHOOK_SWEEP_BATCH = env.int("WEBHOOK_SWEEP_BATCH", default=500)
WEBHOOK_TASK_BATCH = env.int("WEBHOOK_TASK_BATCH", default=10)  # deliveries per task (one endpoint)
WEBHOOK_REQUEUE_AFTER_S = env.float("WEBHOOK_REQUEUE_AFTER_S", default=120.0)
WEBHOOK_SECRET_OVERLAP_S = env.int("WEBHOOK_SECRET_OVERLAP_S", default=24 * 3600)
WEBHOOK_REPLAY_WINDOW_DAYS = env.int("WEBHOOK_REPLAY_WINDOW_DAYS", default=14)
WEBHOOK_RESPONSE_SNIPPET_CHARS = min(env.int("WEBHOOK_RESPONSE_SNIPPET_CHARS", default=500), 1000)
WEBHOOK_BEAT_SCHEDULE = {}
WEBHOOK_BEAT_SCHEDULE["sweep-webhooks"] = {
    "task": "sessions_app.webhooks.tasks.sweep_webhooks",
    "schedule": WEBHOOK_SWEEP_INTERVAL_S,
}
# Events (with their deliveries and attempts) are kept this long once every delivery ended; at
# least the replay window, so a delivery that may still be replayed is never gone.
WEBHOOK_EVENT_RETENTION_DAYS = max(
    env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30), WEBHOOK_REPLAY_WINDOW_DAYS
)
WEBHOOK_PRUNE_INTERVAL_S = env.float("WEBHOOK_PRUNE_INTERVAL_S", default=3600.0)
WEBHOOK_BEAT_SCHEDULE["prune-webhook-events"] = {
    "task": "sessions_app.webhooks.tasks.prune_webhook_events",
    "schedule": WEBHOOK_PRUNE_INTERVAL_S,
}

# --- The live event stream (sessions_app/webhooks/stream) ----------------------------------
# Its own process (`stream` in the Procfile: uvicorn), on STREAM_PORT; behind the production
# proxy it shares the web's origin. Every stream process reads new events from the database
# every STREAM_POLL_S, so any number of them (and of web processes) see every event.
STREAM_PORT = env.int("STREAM_PORT", default=8003)
STREAM_POLL_S = env.float("STREAM_POLL_S", default=0.2)
# An event committed this much after its own timestamp is still found (a slow transaction).
STREAM_LATE_S = env.float("STREAM_LATE_S", default=2.0)
# A user's events are stored this long after their last stream client was connected, so a
# client that comes back within it resumes from its last event id and misses nothing.
STREAM_KEEP_S = env.float("STREAM_KEEP_S", default=3600.0)
# Events waiting for one client: past this the client is slow, and its stream ends (it resumes).
STREAM_QUEUE_MAX = env.int("STREAM_QUEUE_MAX", default=1000)
STREAM_CLIENTS_PER_USER = env.int("STREAM_CLIENTS_PER_USER", default=20)
STREAM_PING_S = env.float("STREAM_PING_S", default=15.0)
