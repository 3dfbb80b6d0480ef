"""The node process imports no Django (its end-to-end tests: tests/e2e/test_node_process.py)."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_node_imports_no_django(tmp_path):
    code = (
        "import sys\n"
        "from node_agent.config import NodeConfig\n"
        "from node_agent.celery_app import create_celery_app\n"
        "import node_agent.__main__\n"
        f"config = NodeConfig(backend_auth_token='t', celery_broker_folder={str(tmp_path)!r})\n"
        "app = create_celery_app(config)\n"
        "app.loader.import_default_modules()\n"
        # kombu alone imports django.utils when Django is installed; settings must stay untouched.
        "bad = ('gateway', 'django.conf', 'django.db', 'neonize')\n"
        "assert not [m for m in sys.modules if m.startswith(bad)], sorted(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
