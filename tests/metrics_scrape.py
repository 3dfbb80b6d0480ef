"""Scraping a `/metrics` endpoint over HTTP in tests, and reading its samples."""

from __future__ import annotations

from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

# The sample names each metric type exposes, besides the family's own name.
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
    "info": ("_info",),
}


def get(url: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=10)


class Scrape:
    """One scrape's samples: `value(name, **labels)`, and every series name it exposes."""

    def __init__(self, text: str) -> None:
        self.families = list(text_string_to_metric_families(text))
        self.samples = [sample for family in self.families for sample in family.samples]

    @classmethod
    def of(cls, url: str, token: str | None = None) -> Scrape:
        answer = get(url, token)
        assert answer.status_code == 200, (answer.status_code, answer.text[:200])
        assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers
        return cls(answer.text)

    def value(self, name: str, **labels: Any) -> float | None:
        """The value of the sample `name` whose labels include `labels`; None if there is none,
        the sum if several match."""
        found = [
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == str(v) for k, v in labels.items())
        ]
        return sum(found) if found else None

    def names(self) -> set[str]:
        """Every series name a query may use: each sample's, and those its family's type
        exposes even before any sample exists (a labelled counter no one incremented yet)."""
        names = {sample.name for sample in self.samples}
        for family in self.families:
            names.add(family.name)
            names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        return names
