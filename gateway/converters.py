"""URL converters for public ids, so odd bytes in a path never reach the database."""


class PublicIdConverter:
    """An id in a URL: 1–64 ASCII letters, digits, `_`, `-` or `.` (e.g. `ses_…`, `node-1`)."""

    regex = r"[A-Za-z0-9_.\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class GroupJidConverter:
    """A group in a URL: its JID (`120363…@g.us`, or the older `<phone>-<time>@g.us`) or the
    digits before `@g.us`; Python gets the whole JID."""

    regex = r"[0-9]{5,30}(?:-[0-9]{5,20})?(?:@g\.us)?"

    def to_python(self, value: str) -> str:
        return value if value.endswith("@g.us") else f"{value}@g.us"

    def to_url(self, value: str) -> str:
        return value
