"""gunicorn's settings for Green Points: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Sync workers, one per core. GET /metrics sums every worker's counts through
prometheus_client's multiprocess mode: each server keeps them in a folder of its own
(PROMETHEUS_MULTIPROC_DIR, default a new folder under /tmp), emptied at start so a
restart never adds yesterday's counts twice. Do not add --preload: the workers must
import the app after the folder is set.
"""

import os
import shutil
import tempfile

from prometheus_client import multiprocess

bind = os.environ.get("GREENPOINTS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GREENPOINTS_WORKERS", "2"))


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"greenpoints-metrics-{os.getpid()}"
    )
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
