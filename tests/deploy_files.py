"""The series deploy/'s Grafana dashboard and Prometheus alert rules query, read from the files.

`queried()` returns (series name, job or None) for every selector of every expression: the job
when the selector names one (`process_open_fds{job="gateway-node"}`), so the test can look for
the series in that process kind's scrape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "gateway-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCRAPE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"

# PromQL words that look like names: operators, modifiers, and the label lists they take.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "atan2"}
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|(?<![\w.:$])([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?'
)
_JOB = re.compile(r'\bjob\s*=\s*"([^"]+)"')


def series_of(expr: str) -> set[tuple[str, str | None]]:
    """(name, job) of each series selector in a PromQL expression (Grafana variables allowed)."""
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # $__rate_interval, ${node}
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery brackets
    expr = _LABEL_LISTS.sub("", expr)
    found = set()
    for match in _TOKENS.finditer(expr):
        name, matchers = match.group(1), match.group(2)
        if name is None or name.lower() in _KEYWORDS:
            continue  # a string, or an operator
        if not matchers and expr[match.end() :].lstrip().startswith("("):
            continue  # a function
        job = _JOB.search(matchers or "")
        found.add((name, job.group(1) if job else None))
    return found


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query" and isinstance(query, str):
            exprs.append(re.sub(r"^label_values\((\w+).*\)$", r"\1", query))
    return exprs


def alert_expressions() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def scrape_jobs() -> set[str]:
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def queried() -> set[tuple[str, str | None]]:
    """Every (series, job) the dashboard and the alert rules query."""
    return {
        pair for expr in dashboard_expressions() + alert_expressions() for pair in series_of(expr)
    }
