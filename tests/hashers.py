"""A PBKDF2 hasher for the in-process tests: the real algorithm with few iterations.

Its hashes are `pbkdf2_sha256$1000$…`, which Django's own PBKDF2 hasher verifies with the stored
count, so the gunicorn of an end-to-end test logs in the same users (and upgrades their hash once).
A full hash costs ~0.3 s; the suite logs in, signs up and changes passwords many times.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FewIterationsPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000
