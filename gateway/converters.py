"""URL converters for public ids, so odd bytes in a path never reach the database."""


class PublicIdConverter:
    """An id in a URL: 1–64 ASCII letters, digits, `_`, `-` or `.` (e.g. `ses_…`, `node-1`)."""

    regex = r"[A-Za-z0-9_.\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
