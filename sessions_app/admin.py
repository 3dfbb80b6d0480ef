"""The app's admin pages, for Django's autodiscovery; each lives in its sub-package."""

import sessions_app.messages.admin
import sessions_app.sessions.admin
import sessions_app.webhooks.admin  # noqa: F401
