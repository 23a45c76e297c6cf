"""Executors: a Dask ``LocalCluster`` gives the same table as the in-process executor (fake fits; the real pool
is exercised by ``test_discover_real.py`` and the benchmarks)."""

from __future__ import annotations

import pandas as pd
import pytest

from cohortode.discover import Budget, SerialExecutor, discover
from cohortode.propose._benchmark_problems import benchmark_problem

from . import _fakes


def test_dask_local_cluster_same_table(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    _fakes.patch(monkeypatch)
    problem = benchmark_problem("theophylline").problem
    budget = Budget(rounds=2, candidates_per_round=3, patience=2, top_k=2, elpd_margin=0.0)

    def run(executor):
        llm = _fakes.ScriptedLLM([[_fakes.ONECOMP], [_fakes.ZERO_ORDER]])
        return discover(problem.data, problem, llm=llm, budget=budget, seed=3, executor=executor, progress=False)

    serial = run(SerialExecutor())
    # threads in this process: the fakes patched above reach the workers (a process cluster would need the real fits)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = run(client.get_executor())
    pd.testing.assert_frame_equal(serial.table(), dask.table())
    pd.testing.assert_frame_equal(serial.candidates(), dask.candidates())
