"""Settings of plans and limits: rate-limit storage, brute-force throttles, client addresses."""

from __future__ import annotations

from gateway.settings.base import DATA_DIR, env

# Rate-limit counters (`limits`): Redis when REDIS_URL is set, else one SQLite file that every
# process of the embedded default shares. RATELIMIT_URL names another store (any `limits` URL).
RATELIMIT_URL = env.str(
    "RATELIMIT_URL",
    default=env.str("REDIS_URL", default="") or f"sqlite://{(DATA_DIR / 'ratelimits.sqlite3')}",
)
RATELIMIT_KEY_PREFIX = env.str("RATELIMIT_KEY_PREFIX", default="wag")
# Failed API-key authentications per client address and minute before that address gets 429.
API_AUTH_FAILURES_PER_MINUTE = env.int("API_AUTH_FAILURES_PER_MINUTE", default=20)
# Reverse proxies in front of the web process that append to X-Forwarded-For (0: none; the
# client address is then the connection's).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Sign-ups per client address and hour (429 past it).
SIGNUPS_PER_HOUR = env.int("SIGNUPS_PER_HOUR", default=10)

# Dashboard login and sign-up (django-axes): this many failures per address and e-mail lock the
# pair out for AXES_COOLOFF_MIN minutes; a success resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_MIN", default=15.0) / 60
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # operators see each failed log-in in admin
AXES_IPWARE_PROXY_ORDER = "right-most"  # the entries our own proxies appended
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)

# Engines this deployment offers (an operator may switch the sandbox off in production).
ENGINES_ENABLED = env.list("ENGINES_ENABLED", default=["whatsapp", "sandbox"])
