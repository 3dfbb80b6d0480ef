"""gunicorn settings, read from the working directory by default (`gunicorn gateway.wsgi`).

The access log leaves out the remote user (`%(u)s`): a client that sends its API key as an
HTTP Basic user name would otherwise have the key written to the log.
"""

access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# --- Prometheus metrics across workers -------------------------------------------------------
# Every web worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR, and /metrics on any
# worker sums them (prometheus_client's multiprocess mode). It must be set before a worker imports
# prometheus_client, so here, in the master; each master gets a folder of its own
# (DATA_DIR/metrics/web-<pid>, or PROMETHEUS_MULTIPROC_DIR as given, emptied at start), and the
# folders of masters no longer running are removed.
import os  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402


def _multiproc_dir() -> Path:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return Path(given)
    root = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent / "data") / "metrics"
    for old in root.glob("web-*"):
        pid = old.name.removeprefix("web-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return root / f"web-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_metrics_dir = _multiproc_dir()
shutil.rmtree(_metrics_dir, ignore_errors=True)
_metrics_dir.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def child_exit(server, worker):  # gunicorn hook: a dead worker's live gauges go (none yet)
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # gunicorn hook: the master stops, its folder goes
    if _metrics_dir.name.startswith("web-"):
        shutil.rmtree(_metrics_dir, ignore_errors=True)


# --- Timeouts (os is imported above) --------------------------------------------------------
# A worker silent this long is killed and replaced; one that was told to stop gets this long to
# finish its requests (a media URL download may take MEDIA_DOWNLOAD_TIMEOUT_S, 20 s).
timeout = int(os.environ.get("GUNICORN_TIMEOUT_S", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT_S", "30"))
# Idle keep-alive connections are held this long: longer than nginx's upstream keepalive reuse
# (deploy/nginx/gateway.conf), short enough that idle clients do not hold threads. Slow
# clients themselves are nginx's job: a gthread worker reads a request's headers in one of its
# threads, so a client that drips them holds that thread (bench/slow_headers.py).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE_S", "5"))
