"""The dashboard (Django templates + htmx): sessions, test messages and webhooks.

Views are thin and call the same services and selectors as the API; forms validate.
"""
