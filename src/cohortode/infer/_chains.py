"""NUTS chains: one after another in this process, or one per worker process to use several cores.

NumPyro's ``chain_method="parallel"`` does not work around a diffrax solve with current JAX (the solve is
closure-converted differently under ``pmap``/``shard_map``; diffrax issue #765), and ``"vectorized"`` is slower per
draw. Separate processes sidestep both: each worker (``python -m cohortode.infer._chain_worker``, a fresh interpreter, so
nothing depends on the caller's ``__main__`` or on forking a threaded process) rebuilds the problem from picklable
pieces (model, data, engine, error model, priors, solver), compiles it (JAX's persistent cache is shared between
processes), and runs one chain.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..likelihood import CountLikelihood
from ._problem import BayesianProblem

__all__ = ["NutsSettings", "ChainResult", "run_chains", "default_workers", "chain_key", "cached_sampler"]


@dataclass(frozen=True)
class NutsSettings:
    """NUTS settings shared by every chain."""

    num_warmup: int = 500
    num_samples: int = 500
    target_accept_prob: float = 0.9
    dense_mass: bool = False
    max_tree_depth: int = 10
    inverse_mass_matrix: tuple[tuple[float, ...], ...] | None = None
    """Starting dense metric (see :mod:`cohortode.infer._metric`), adapted during warm-up; ``None``: NumPyro's
    identity start (diagonal unless ``dense_mass``)."""

    @staticmethod
    def metric(matrix) -> tuple[tuple[float, ...], ...] | None:
        """``matrix`` as the hashable value of ``inverse_mass_matrix``."""
        return None if matrix is None else tuple(tuple(float(x) for x in row) for row in np.asarray(matrix))


@dataclass
class ChainResult:
    """Unconstrained draws of one chain, its divergences and its run time."""

    z: np.ndarray  # (draw, site)
    diverging: np.ndarray  # (draw,)
    seconds: float


def default_workers() -> int:
    """Worker processes for chains: the usable cores (``COHORTODE_WORKERS`` overrides it)."""
    env = os.environ.get("COHORTODE_WORKERS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class _Sampler:
    """One NUTS chain program for a problem, compiled once and reused by every chain of this process.

    ``MCMC.run`` retraces its loop on every call (its collection function is rebuilt each time), so each chain
    recompiled the whole sampler and kept the executable (about 550 memory mappings each on XLA-CPU). Here the
    kernel's ``init`` starts a chain and one jitted ``lax.scan`` of ``kernel.sample`` runs warm-up (adaptation while
    ``state.i < num_warmup``, inside the kernel) and sampling, as ``MCMC.run`` does.
    """

    def __init__(self, problem: BayesianProblem, settings: NutsSettings):
        from numpyro.infer import NUTS

        potential = jax.jit(lambda z: -problem.log_density(z))
        matrix = settings.inverse_mass_matrix
        self.kernel = NUTS(potential_fn=potential, forward_mode_differentiation=True,
                           target_accept_prob=settings.target_accept_prob, max_tree_depth=settings.max_tree_depth,
                           dense_mass=settings.dense_mass or matrix is not None,
                           inverse_mass_matrix=None if matrix is None else jnp.asarray(matrix))
        self.settings = settings
        sample = self.kernel.sample

        def step(state, _):
            state = sample(state, (), {})
            return state, (state.z, state.diverging)
        length = settings.num_warmup + settings.num_samples
        self._run = jax.jit(lambda state: lax.scan(step, state, None, length=length)[1])

    def chain(self, key, init) -> ChainResult:
        """Warm up and sample one chain from ``init`` (unconstrained) with ``key``."""
        start = time.perf_counter()
        state = self.kernel.init(key, self.settings.num_warmup, init_params=jnp.asarray(init), model_args=(),
                                 model_kwargs={})
        z, diverging = self._run(state)
        keep = slice(self.settings.num_warmup, None)
        return ChainResult(np.asarray(z)[keep], np.asarray(diverging)[keep], time.perf_counter() - start)


def _chain_keys(seed: int, num_chains: int) -> list[jax.Array]:
    return list(jax.random.split(jax.random.PRNGKey(seed), num_chains))


def chain_key(seed: int, num_chains: int, index: int) -> jax.Array:
    """The key of chain ``index`` of ``num_chains`` with ``seed`` (the same in every mode of :func:`run_chains`)."""
    return _chain_keys(seed, num_chains)[index]


_SAMPLERS: dict[str, _Sampler] = {}
SAMPLER_CACHE_SIZE = 2
"""Compiled chain programs a process keeps (see :func:`cached_sampler`)."""


def cached_sampler(token: str, problem: BayesianProblem, settings: NutsSettings) -> _Sampler:
    """The compiled chain program of ``token`` in this process, compiled on first use.

    A worker that runs several chains of the same NUTS fit as separate tasks (see
    :class:`~cohortode.infer.NutsStart`) compiles the sampler once. ``token`` names the problem and settings; the
    most recent :data:`SAMPLER_CACHE_SIZE` are kept, and all are dropped when this process nears its memory-mapping
    limit (:func:`~cohortode._config.release_compiled_code_if_needed`).
    """
    from .._config import release_compiled_code_if_needed

    if token in _SAMPLERS:
        _SAMPLERS[token] = _SAMPLERS.pop(token)  # most recently used last
        return _SAMPLERS[token]
    if release_compiled_code_if_needed():
        _SAMPLERS.clear()
    while len(_SAMPLERS) >= SAMPLER_CACHE_SIZE:
        del _SAMPLERS[next(iter(_SAMPLERS))]
    _SAMPLERS[token] = _Sampler(problem, settings)
    return _SAMPLERS[token]


def _run_in_process(problem: BayesianProblem, settings: NutsSettings, init: np.ndarray, seed: int,
                    num_chains: int, progress: bool) -> list[ChainResult]:
    sampler = _Sampler(problem, settings)
    results = []
    for i, key in enumerate(_chain_keys(seed, num_chains)):
        results.append(sampler.chain(key, init[i]))
        if progress:
            print(f"chain {i + 1}/{num_chains} done in {results[-1].seconds:.1f} s", flush=True)
    return results


def _worker(payload: dict) -> ChainResult:
    """Run one chain in a worker process: rebuild the problem from its pieces and sample."""
    from ..likelihood import AggregateLikelihood

    if payload.get("likelihood") == "count":
        lik = CountLikelihood(payload["model"], payload["data"], solver=payload["solver"], options=payload["options"])
    else:
        lik = AggregateLikelihood(payload["model"], payload["data"], engine=payload["engine"],
                                  error=payload["error"], solver=payload["solver"], options=payload["options"])
    problem = BayesianProblem(lik, payload["priors"])
    if np.shape(payload["init"]) != (problem.dimension,):
        raise ValueError(f"initial point of shape {np.shape(payload['init'])}; the problem has {problem.dimension} "
                         f"sites {problem.site_names}")
    return _Sampler(problem, payload["settings"]).chain(jnp.asarray(payload["key"], dtype=jnp.uint32),
                                                        payload["init"])


def run_chains(problem: BayesianProblem, settings: NutsSettings, init: np.ndarray, *, num_chains: int, seed: int,
               workers: int | None = None, progress: bool = False) -> list[ChainResult]:
    """Run ``num_chains`` NUTS chains from ``init`` (unconstrained), each with its own key from ``seed``.

    Parameters
    ----------
    problem
        What to sample.
    settings
        NUTS settings.
    init
        Unconstrained start of every chain (the MAP), shape ``(sites,)``, or one start per chain, shape
        ``(num_chains, sites)`` (e.g. the last draws of earlier chains, to extend them).
    num_chains
        Number of chains.
    seed
        Chain ``i`` uses the ``i``-th key of ``jax.random.split(PRNGKey(seed), num_chains)`` in either mode, so the
        draws do not depend on ``workers``, up to floating-point differences between processes.
    workers
        Worker processes; ``1`` runs the chains one after another in this process. ``None``:
        :func:`default_workers`, capped at ``num_chains``.
    progress
        One line per finished chain.

    Returns
    -------
    list of ChainResult
        In chain order.
    """
    workers = min(num_chains, default_workers() if workers is None else int(workers))
    init = np.asarray(init, dtype=float)
    init = np.broadcast_to(init, (num_chains, init.shape[-1])) if init.ndim == 1 else init
    if init.shape[0] != num_chains:
        raise ValueError(f"{init.shape[0]} initial points for {num_chains} chains")
    if workers <= 1:
        return _run_in_process(problem, settings, init, seed, num_chains, progress)
    lik = problem.likelihood
    kind = "count" if isinstance(lik, CountLikelihood) else "aggregate"
    base = {"model": lik.model, "data": lik.data, "engine": getattr(lik, "engine", None),
            "error": getattr(lik, "error", None), "likelihood": kind,
            "solver": lik.compiled.solver, "options": lik.compiled.options, "priors": dict(problem.priors),
            "settings": settings}
    keys = [np.asarray(k) for k in _chain_keys(seed, num_chains)]
    env = dict(os.environ)
    # one XLA thread per worker (the workers share the cores); the package is found as in this process
    env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    results: list[ChainResult | None] = [None] * num_chains
    with tempfile.TemporaryDirectory(prefix="cohortode_chains_") as tmp:
        pending = list(range(num_chains))
        running: dict[int, tuple[subprocess.Popen, Path, object]] = {}
        try:
            while pending or running:
                while pending and len(running) < workers:
                    i = pending.pop(0)
                    inp, out = Path(tmp) / f"chain{i}.in", Path(tmp) / f"chain{i}.out"
                    with open(inp, "wb") as fh:
                        pickle.dump({**base, "key": keys[i], "init": np.array(init[i])}, fh)
                    log = open(Path(tmp) / f"chain{i}.log", "w+b")
                    proc = subprocess.Popen([sys.executable, "-m", "cohortode.infer._chain_worker", str(inp), str(out)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
                    running[i] = (proc, out, log)
                time.sleep(0.05)
                for i, (proc, out, log) in list(running.items()):
                    if proc.poll() is None:
                        continue
                    del running[i]
                    log.seek(0)
                    text = log.read().decode(errors="replace")
                    log.close()
                    if proc.returncode != 0 or not out.exists():
                        raise RuntimeError(f"NUTS chain {i + 1} failed in its worker process (exit code "
                                           f"{proc.returncode}); its output ends with:\n{text[-3000:]}")
                    with open(out, "rb") as fh:
                        results[i] = pickle.load(fh)
                    if progress:
                        print(f"chain {i + 1}/{num_chains} done in {results[i].seconds:.1f} s", flush=True)
        finally:
            for proc, _, log in running.values():
                proc.kill()
                proc.wait()
                log.close()
    return [r for r in results if r is not None]

