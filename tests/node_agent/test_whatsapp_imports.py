"""neonize (a Go runtime) is imported only in the node process, lazily, never by the web."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
import django
django.setup()  # the admin modules of every app, too
import gateway.urls  # every API and dashboard view, and what they import
from gateway.celery import app
app.loader.import_default_modules()  # every backend task module (autodiscovery)
import node_agent.runtime, node_agent.tasks, node_agent.__main__
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "neonize")
print("neonize modules:", loaded)
sys.exit(1 if loaded else 0)
"""


def test_web_and_node_modules_do_not_import_neonize(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
