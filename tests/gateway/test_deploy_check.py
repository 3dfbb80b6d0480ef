"""`manage.py check --deploy` is clean with the variables of README's "## Production" block."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict[str, str]:
    """The `NAME=value` pairs of the first sh block under README's "## Production"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    pairs = {}
    for line in block.splitlines():
        for token in line.split("#", 1)[0].split():
            name, _, value = token.partition("=")
            pairs[name] = value
    # "…" stands for a secret of the operator's; a real one is random and long.
    return {k: (secrets.token_urlsafe(50) if v == "…" else v) for k, v in pairs.items()}


def test_the_production_block_sets_what_the_deploy_check_needs():
    env = production_env()
    assert env["SECURE_SSL_REDIRECT"] == "true"
    assert int(env["SECURE_HSTS_SECONDS"]) >= 31536000
    assert env["SECURE_PROXY_SSL_HEADER"] == "HTTP_X_FORWARDED_PROTO"


def test_check_deploy_has_no_warnings_with_the_production_block(tmp_path):
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env = {**keep, **production_env(), "ENV_FILE": "", "DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
