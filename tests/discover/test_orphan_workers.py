"""Pool workers end themselves when the discovery that started them is killed (SIGKILL cannot end the pool)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

_KILLED_PARENT = """
import os, signal, time
from cohortode.discover._executor import default_executor
pool = default_executor(1)
print(pool.submit(os.getpid).result(timeout=300), flush=True)
pool.submit(time.sleep, 120)
time.sleep(1.0)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has ended; only its entry waits to be reaped
        return f.read().split(") ")[-1][:1] != "Z"


def test_workers_of_a_killed_parent_end_within_seconds():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED_PARENT], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    worker = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker), "the worker outlived its killed parent by 30 s (it holds a 120 s task)"
