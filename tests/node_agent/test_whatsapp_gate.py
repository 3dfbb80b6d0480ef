"""The FFI gate: parallel starts and stops beside status calls never abort the process.

Unguarded, 50 serialized starts beside one status poller aborted the process 10 of 10 times
(measured on neonize 0.5.2); this stress without the gate aborted 1 of 3 runs here (`fatal error:
concurrent map writes`). It runs in a subprocess, so an abort fails the test, not pytest.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.node_agent.whatsapp_helpers import closed_proxy

ROOT = Path(__file__).resolve().parents[2]

STRESS = textwrap.dedent(
    """
    import random, sys, threading, time
    from node_agent.config import NodeConfig
    from node_agent.engines.whatsapp import WhatsAppEngine

    tmp, ops, proxy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    config = NodeConfig(
        backend_auth_token="t",
        node_db_path=tmp + "/node.sqlite3",
        session_storage_path=tmp + "/sessions",
        whatsapp_probe_timeout_s=0,  # every attempt is a real connect()
        whatsapp_proxy_url=proxy,  # closed: connects fail at once, no DNS
        whatsapp_start_spacing_s=0,
        whatsapp_retry_min_s=0.05,
        whatsapp_retry_max_s=0.2,
        whatsapp_stop_timeout_s=1,  # a stop that waits on a connect gives up soon
    )
    events = []
    engine = WhatsAppEngine(config, lambda sid, kind, data: events.append(kind))
    ids = [f"g{i}" for i in range(40)]
    churning = threading.Event()
    churning.set()

    def churn():
        for _ in range(ops):
            sid = random.choice(ids)
            if random.random() < 0.6:
                engine.start(sid, "qr", None, None)
            else:
                engine.stop(sid)

    def poll():
        while churning.is_set():
            sid = random.choice(ids)
            engine.is_connected(sid)
            try:
                engine.check_number(sid, "6281200000200")
            except Exception:
                pass

    churners = [threading.Thread(target=churn) for _ in range(6)]
    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for t in churners + pollers:
        t.start()
    for t in churners:
        t.join()
    churning.clear()
    for t in pollers:
        t.join()
    engine.shutdown()
    print("survived", engine.connects, "connects,", events.count("failed"), "failures")
    """
)


def test_parallel_starts_and_stops_beside_status_calls_survive(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for run in range(2):
        work = tmp_path / f"run{run}"
        work.mkdir()
        done = subprocess.run(
            [sys.executable, "-c", STRESS, str(work), "30", closed_proxy()],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "survived" in done.stdout
        connects = int(done.stdout.split("survived")[1].split()[0])
        assert connects > 50, done.stdout  # enough real starts to have crashed unguarded
