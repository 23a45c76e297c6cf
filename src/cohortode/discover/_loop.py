"""``discover``: rounds of propose -> validate -> deduplicate -> screen -> feedback, then NUTS for the best
structures, their comparison, and the ensemble."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import CandidateRejected, CohortodeError
from ..propose import Candidate, MotifProposer, Problem, Proposer, validate_model
from ..propose._infer_problem import infer_problem
from ..propose._population import resolve_population_size
from ..spec import ODEModel
from . import _finalize, _screen
from ._discovery import Discovery
from ._executor import TaskTimeout, concurrency, default_executor, run_tasks
from ._feedback import build_feedback
from ._parent_start import parent_starts
from ._progress import Progress
from ._rundir import RunDirectory
from ._screen import ScreenResult
from ._settings import Budget, FitSettings

__all__ = ["discover"]

log = logging.getLogger("cohortode.discover")


def round_seed(seed: int, round_: int, proposer: int) -> int:
    """The seed of one proposer in one round (proposals depend on the run's seed, the round and the proposer)."""
    return seed * 1009 + round_ * 31 + proposer


def _llm_proposer(llm: Any) -> Proposer | None:
    """The language-model proposer for ``llm`` (``None``: the embedded model; ``False``: none).

    Repair prompts are off: on theophylline with the embedded 135M model none of 4 repairs in a round produced a
    valid structure, and each cost 11-17 s of decoding (one sequence of up to 128 tokens at about 0.12 s per token:
    decoding is bound by reading the fp32 weights from memory), half of the round's language-model time. Pass an
    :class:`~cohortode.propose.LLMProposer` to choose otherwise.
    """
    if llm is False:
        return None
    if isinstance(llm, Proposer):
        return llm
    from ..propose import LLMProposer

    return LLMProposer(llm, fallback=False, repair=False)


def _interleave(groups: Sequence[list[Candidate]]) -> list[Candidate]:
    out: list[Candidate] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


def occams_window(scored: Sequence[ScreenResult], odds: float = 20.0) -> list[ScreenResult]:
    """The screened structures inside Occam's window (order kept).

    Occam's window of Madigan and Raftery (1994, J Am Stat Assoc 89:1535), on screening figures: a structure stays
    when (1) its BIC is within ``2 ln(odds)`` of the lowest BIC (posterior odds against the best structure above
    ``1/odds``, with BIC standing for -2 log marginal likelihood) and (2) no structure with fewer parameters (sites
    of the screened posterior) inside rule (1)'s window has a higher approximate elpd. The simplest structure inside
    rule (1)'s window always stays; a structure without a finite BIC is judged by rule (2) alone.
    """
    best_bic = min((s.bic for s in scored if math.isfinite(s.bic)), default=math.inf)
    supported = [s for s in scored if not (math.isfinite(s.bic) and s.bic - best_bic > 2.0 * math.log(odds))]
    kept = []
    for s in supported:
        simpler = [t.elpd_loo for t in supported if t.n_parameters < s.n_parameters]
        if not simpler or max(simpler) <= s.elpd_loo:
            kept.append(s)
    return kept


def _record(cand: Candidate, round_: int) -> dict[str, Any]:
    model = cand.model
    return {"round": round_, "source": cand.source, "structure_hash": cand.structure_hash,
            "equations": "; ".join(model.equations()) if model is not None else "",
            "raw_text": cand.raw_text[:2000], "n_parameters": len(model.parameters) if model is not None else None,
            "log_prior": cand.log_prior, "status": cand.status, "reason": cand.reason, "screened": False,
            "mechanism": list(cand.mechanism), "description": cand.description, "parent": cand.parent,
            "toml": model.to_toml() if model is not None else None}


class _Loop:
    """The state of one run (kept out of :func:`discover` so each stage is a short method)."""

    def __init__(self, problem: Problem, budget: Budget, fit_settings: FitSettings, seed: int,
                 proposers: list[tuple[str, Proposer]], run: RunDirectory | None, executor: Executor,
                 progress: Progress, restart: Callable[[], Executor] | None = None):
        self.problem = problem
        self.budget = budget
        self.fit_settings = fit_settings
        self.seed = seed
        self.proposers = proposers
        self.run = run
        self.executor = executor
        self.restart = restart
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.models: dict[str, ODEModel] = {}
        self.screens: dict[str, ScreenResult] = {}
        self.llm_log: list[dict[str, Any]] = []
        self.timings = {k: 0.0 for k in ("llm", "motifs", "validation", "screen", "nuts", "comparison")}
        self.start = time.perf_counter()
        self.cached_rounds: dict[int, list[dict[str, Any]]] = {}
        self.cached_screens: dict[str, ScreenResult] = {}
        self.cached_final: set[str] = set()
        self.cached_failed: dict[str, str] = {}
        self.ensemble: Any = None
        if run is not None:
            for e in run.events("proposed"):
                self.cached_rounds[int(e["round"])] = e["candidates"]
            for e in run.events("screened"):
                self.cached_screens[e["result"]["structure_hash"]] = ScreenResult.from_dict(e["result"])
            self.cached_final = {e["structure_hash"] for e in run.events("fitted")}
            # a recorded failure (a timeout included) is a finished result: resuming does not fit it again
            self.cached_failed = {e["structure_hash"]: str(e.get("reason") or "") for e in run.events("fit_failed")}

    # ------------------------------------------------------------------------------------------- helpers
    def _time_left(self) -> float:
        if self.budget.wall_time is None:
            return math.inf
        return self.budget.wall_time - (time.perf_counter() - self.start)

    def _best_text(self) -> str:
        scored = [s for s in self.screens.values() if s.scored]
        if not scored:
            return ""
        best = max(scored, key=lambda s: (s.elpd_loo, s.structure_hash))
        return f"elpd {best.elpd_loo:.1f}: " + "; ".join(self.models[best.structure_hash].equations())[:80]

    def _emit(self, event: str, **fields: Any) -> None:
        if self.run is not None:
            self.run.append(event, **fields)

    # ------------------------------------------------------------------------------------------- propose
    def _propose(self, round_: int, k: int) -> list[dict[str, Any]]:
        """New candidate records for a round (validated, deduplicated), from the run directory when recorded."""
        if round_ in self.cached_rounds:
            log.info("round %d: proposals read from the run directory", round_)
            return [dict(r) for r in self.cached_rounds[round_]]
        feedback = build_feedback(self.records, self.screens, self.models) if self.records else None
        groups = []
        for i, (kind, proposer) in enumerate(self.proposers):
            t0 = time.perf_counter()
            try:
                cands = proposer.propose(self.problem, feedback, k=k, seed=round_seed(self.seed, round_, i))
            except (CohortodeError, RuntimeError, ValueError, OSError) as exc:
                log.warning("round %d: the %s proposer failed (%s: %s); the other proposers carry on", round_,
                            kind, type(exc).__name__, exc)
                cands = []
            seconds = time.perf_counter() - t0
            self.timings["llm" if kind == "llm" else "motifs"] += seconds
            if kind == "llm":
                stats = dict(getattr(proposer, "last_stats", {}) or {})
                self.llm_log.append({"round": round_, "seconds": seconds, "stats": stats,
                                     "responses": [{"text": c.raw_text, "source": c.source, "status": c.status,
                                                    "reason": c.reason} for c in cands]})
                if not any(c.is_valid for c in cands):
                    log.warning("round %d: the language model proposed nothing valid; the motif library and "
                                "mutations carry on", round_)
            elif round_ == 0 and not cands:
                log.warning("round 0: the motif library has no composition for states %s (domain %s); only the "
                            "language model can propose here. Name states as the library expects (e.g. depot/"
                            "central for PK, S/I/R for epidemics) to use it", list(self.problem.state_names),
                            self.problem.domain)
            groups.append(cands)
        t0 = time.perf_counter()
        seen = set(self.models) | {r["structure_hash"] for r in self.records if r["structure_hash"]}
        out: list[dict[str, Any]] = []
        taken = 0
        for cand in _interleave(groups):
            if cand.is_valid:
                try:
                    model, note = resolve_population_size(cand.model, self.problem)
                    if note:
                        log.info("round %d: %s", round_, note)
                        cand = replace(cand, model=model, description=model.description)
                    validate_model(cand.model, self.problem)
                except CandidateRejected as exc:
                    cand = replace(cand, status="rejected", reason=exc.reason)
            if cand.is_valid:
                h = cand.structure_hash
                if h in seen:
                    cand = replace(cand, status="duplicate", reason=f"duplicate of structure {h}")
                elif taken >= k:
                    continue
                else:
                    seen.add(h)
                    taken += 1
            out.append(_record(cand, round_))
        self.timings["validation"] += time.perf_counter() - t0
        self._emit("proposed", round=round_, candidates=out)
        return out

    # -------------------------------------------------------------------------------------------- screen
    def _init(self, record: dict[str, Any]) -> list[dict[str, float]] | None:
        """MAP starts of a mutation from its scored parent's optimum (its MAP and its maximum-likelihood point)."""
        parent = record.get("parent") or ""
        screen = self.screens.get(parent)
        if not parent or screen is None or not screen.scored or parent not in self.models:
            return None
        h = record["structure_hash"]
        points = [screen.map_values, screen.max_likelihood_values]
        starts = parent_starts(self.models[h], self.models[parent], [p for p in points if p], self.problem.data)
        return starts or None

    def _screen(self, round_: int, records: list[dict[str, Any]]) -> None:
        todo: list[str] = []
        inits: dict[str, list[dict[str, float]] | None] = {}
        for r in records:
            if r["status"] == "valid":
                h = r["structure_hash"]
                self.models.setdefault(h, ODEModel.from_toml(r["toml"]))
                todo.append(h)
                inits[h] = self._init(r)
        t0 = time.perf_counter()
        tasks = []
        for h in todo:
            if h in self.cached_screens:
                self.screens[h] = self.cached_screens[h]
            elif self._time_left() > 0:
                kwargs = dict(model=self.models[h], data=self.problem.data, settings=self.fit_settings,
                              seed=self.seed)
                if inits.get(h):
                    kwargs["init"] = inits[h]
                tasks.append((h, _screen.screen_structure, kwargs))
        done = len(todo) - len(tasks)
        self.progress.update(f"round {round_ + 1}: screening", done, len(todo), self._best_text())

        def finished(h: str, future: Any) -> None:
            nonlocal done
            try:
                result = future.result()
            except TaskTimeout as exc:
                result = ScreenResult(h, "rejected", reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - a lost worker is a rejection, not the end of the run
                result = ScreenResult(h, "rejected", reason=f"worker failed: {type(exc).__name__}: {exc}")
            self.screens[h] = result
            if self.run is not None:
                self.run.write_text(h, "model.toml", self.models[h].to_toml())
            self._emit("screened", round=round_, result=result.to_dict())
            done += 1
            self.progress.update(f"round {round_ + 1}: screening", done, len(todo), self._best_text())

        self.executor = run_tasks(self.executor, tasks, finished, timeout=self.fit_settings.screen_timeout,
                                  restart=self.restart)
        self.timings["screen"] += time.perf_counter() - t0
        for r in records:
            h = r["structure_hash"]
            if r["status"] != "valid":
                continue
            s = self.screens.get(h)
            if s is None:
                r["status"], r["reason"] = "not screened", "wall-time budget spent"
                continue
            r.update(screened=True, status=s.status, reason=s.reason, elpd_loo=s.elpd_loo, elpd_se=s.elpd_se, bic=s.bic,
                     unidentified=", ".join(s.unidentified), at_bound=", ".join(f"{n} ({side})" for n, side, _ in
                                                                                s.at_bound),
                     started_from_parent=bool(inits.get(h)), best_start=s.best_start)

    # ------------------------------------------------------------------------------------------- rounds
    def rounds(self) -> str:
        best, stale = -math.inf, 0
        for round_ in range(self.budget.rounds):
            n_screened = len(self.screens)
            if self._time_left() <= 0:
                return "wall_time"
            if n_screened >= self.budget.candidates:
                return "candidates"
            k = min(self.budget.candidates_per_round, self.budget.candidates - n_screened)
            self.progress.update(f"round {round_ + 1}: proposing", 0, None, self._best_text())
            records = self._propose(round_, k)
            self._screen(round_, records)
            self.records += records
            new = [r for r in records if r.get("screened")]
            scores = [s.elpd_loo for s in self.screens.values() if s.scored]
            round_best = max(scores, default=-math.inf)
            log.info("round %d: %d proposed, %d screened, best approximate elpd %.2f", round_ + 1, len(records),
                     len(new), round_best)
            self._emit("round", round=round_, proposed=len(records), screened=len(new),
                       best=round_best if math.isfinite(round_best) else None)
            if any(r["status"] == "not screened" for r in records):
                return "wall_time"
            if not new:
                return "no new candidates"
            if round_best > best + self.budget.min_improvement:
                best, stale = round_best, 0
            else:
                stale += 1
                if stale >= self.budget.patience:
                    return "no improvement"
        return "rounds"

    # ---------------------------------------------------------------------------------------------- final
    def _ranked(self, exclude: Collection[str] = ()) -> list[ScreenResult]:
        """The scored structures (but ``exclude``), best approximate elpd first."""
        return sorted((s for s in self.screens.values() if s.scored and s.structure_hash not in exclude),
                      key=lambda s: (-s.elpd_loo, s.structure_hash))

    def finalists(self) -> list[str]:
        scored = self._ranked()
        if not scored:
            return []
        if self.budget.occam:
            scored = occams_window(scored, self.budget.occam_odds)
        top = scored[0].elpd_loo
        chosen = [s.structure_hash for i, s in enumerate(scored)
                  if i < self.budget.top_k or top - s.elpd_loo <= self.budget.elpd_margin]
        return chosen[: self.budget.max_final]

    def _nuts(self, batch: list[str], hashes: list[str], posteriors: dict[str, Any], failed: dict[str, str]) -> None:
        """NUTS fits of ``batch`` (read back from the run directory when recorded) into ``posteriors``/``failed``.

        On an executor with several workers, each structure's fit is a start task (its MAP and metric) and, once
        that is done, one task per chain, so the chains of a slow structure spread over the workers; its timeout
        then applies to the start and to each chain, at ``nuts_timeout`` and ``nuts_timeout / num_chains``.
        """
        settings = self.fit_settings
        split = settings.num_chains > 1 and concurrency(self.executor, 2) > 1
        chain_timeout = None if settings.nuts_timeout is None else settings.nuts_timeout / settings.num_chains
        tasks = []
        for h in batch:
            saved = self.run.read_fit(h) if self.run is not None and h in self.cached_final else None
            if saved is not None:
                posteriors[h] = saved
            elif h in self.cached_failed:
                failed[h] = self.cached_failed[h]
                log.info("NUTS fit of structure %s: its failure is read from the run directory (%s)", h, failed[h])
            else:
                kwargs = dict(model=self.models[h], data=self.problem.data, settings=settings, seed=self.seed,
                              init=self.screens[h].map_values or None)
                if split:
                    kwargs["split_chains"] = True
                tasks.append((h, _finalize.nuts_structure, kwargs))
        done = len(posteriors) + len(failed)
        self.progress.update("NUTS for the best structures", done, len(hashes), self._best_text())
        started: dict[str, _finalize.StartedFit] = {}
        chains: dict[str, dict[int, Any]] = {}

        def record(result: _finalize.FinalResult) -> None:
            nonlocal done
            h = result.structure_hash
            if result.status == "fitted":
                posteriors[h] = result.fit
                if self.run is not None:
                    self.run.write_fit(h, result.fit)
            else:
                failed[h] = result.reason
                log.warning("NUTS fit of structure %s failed: %s", h, result.reason)
            self._emit("fitted" if result.status == "fitted" else "fit_failed", structure_hash=h,
                       reason=result.reason, diagnostics=result.diagnostics, seconds=result.seconds)
            done += 1
            self.progress.update("NUTS for the best structures", done, len(hashes), self._best_text())

        def finished(key: Any, future: Any) -> list[tuple] | None:
            h, index = key if isinstance(key, tuple) else (key, None)
            what = "worker failed" if index is None else f"chain {index + 1} of {settings.num_chains} failed"
            try:
                result = future.result()
            except TaskTimeout as exc:
                result = _finalize.FinalResult(h, "failed", reason=str(exc) if index is None else
                                               f"chain {index + 1} of {settings.num_chains}: {exc}")
            except Exception as exc:  # noqa: BLE001
                result = _finalize.FinalResult(h, "failed", reason=f"{what}: {type(exc).__name__}: {exc}")
            if isinstance(result, _finalize.StartedFit):
                started[h], chains[h] = result, {}
                self._emit("nuts_started", structure_hash=h, seconds=result.seconds, chains=settings.num_chains)
                return [((h, i), _finalize.nuts_chain, dict(start=result.start, index=i), chain_timeout)
                        for i in range(settings.num_chains)]
            if isinstance(result, _finalize.FinalResult):
                if h not in failed:  # the first failed chain ends the structure; its other chains are skipped
                    record(result)
                return None
            chains[h][index] = result
            if len(chains[h]) == settings.num_chains:
                seconds = started[h].seconds + sum(c.seconds for c in chains[h].values())
                record(_finalize.assemble(started[h], [chains[h][i] for i in range(settings.num_chains)], seconds))
            return None

        self.executor = run_tasks(self.executor, tasks, finished, timeout=settings.nuts_timeout,
                                  restart=self.restart, skip=lambda key: isinstance(key, tuple) and key[0] in failed)

    def fallback(self, tried: set[str]) -> list[str]:
        """When every NUTS fit of the finalists failed: the next ``top_k`` screened structures by approximate elpd."""
        return [s.structure_hash for s in self._ranked(tried)[: self.budget.top_k]]

    def final(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        hashes = self.finalists()
        posteriors: dict[str, Any] = {}
        failed: dict[str, str] = {}
        t0 = time.perf_counter()
        batch = hashes
        while batch:
            self._nuts(batch, hashes, posteriors, failed)
            if posteriors:
                break
            # an ensemble needs one fitted structure: Occam's window and top_k chose these, but they all failed
            batch = self.fallback(set(hashes))
            if batch:
                log.warning("every NUTS fit failed; fitting the next %d structures by approximate elpd", len(batch))
                hashes = hashes + batch
        self.timings["nuts"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        ordered = {h: posteriors[h] for h in hashes if h in posteriors}
        log_priors = {r["structure_hash"]: r.get("log_prior") for r in self.records if r["structure_hash"] in ordered}
        table, self.ensemble = _finalize.compare_final(ordered, log_priors, seed=self.seed,
                                                       parsimony=self.budget.occam,
                                                       min_difference=self.budget.occam_floor)
        if not table.empty:
            if "equations" not in table.columns:
                table.insert(1, "equations", ["; ".join(self.models[h].equations()) for h in table["name"]])
            table["screen_elpd"] = [self.screens[h].elpd_loo for h in table["name"]]
        self.timings["comparison"] += time.perf_counter() - t0
        for r in self.records:
            r["final"] = r["status"] == "scored" and r["structure_hash"] in ordered
            if r["status"] == "scored" and r["structure_hash"] in failed:
                r["status"], r["reason"] = "fit failed", failed[r["structure_hash"]]
        return table, ordered


def discover(data: Any, problem: Problem | None = None, *, context: str = "", domain: str | None = None,
             llm: Any = None, motifs: bool = True, budget: Budget | None = None,
             fit_settings: FitSettings | None = None, seed: int = 0, run_dir: str | Path | None = None,
             resume: bool = True, executor: Executor | None = None, progress: bool = True) -> Discovery:
    """Discover ODE structures that explain a cohort table, and weigh them.

    Parameters
    ----------
    data
        The cohort table (:class:`~cohortode.CohortData`).
    problem
        The states and observables to explain; ``None`` infers them from ``data`` and ``domain`` (see
        :func:`cohortode.propose.infer_problem`).
    context
        A sentence about the study, for the language model (default: the data's description).
    domain
        ``"pk"``, ``"pd"``, ``"epidemic"``, ``"growth"`` or ``"progression"``.
    llm
        The language model: ``None`` for the embedded one, a backend or backend name, any
        :class:`~cohortode.propose.Proposer` (used as the language-model proposer), or ``False`` for none.
    motifs
        Use the motif library and mutations of the best structures.
    budget, fit_settings
        Limits of the search (:class:`Budget`) and settings of screening and NUTS fits (:class:`FitSettings`).
    seed
        Seed of every random choice; the same seed and a budget in rounds and candidates give the same table.
    run_dir
        Folder recording every candidate and result as it finishes; an existing one is resumed (``resume``).
    resume
        Reuse what ``run_dir`` already holds; ``False`` refuses a non-empty ``run_dir``.
    executor
        Where screening and NUTS fits run: default a process pool of fresh interpreters, one per core; any
        :class:`concurrent.futures.Executor` (e.g. ``distributed.Client(...).get_executor()``), or
        :class:`SerialExecutor` for this process.
    progress
        Show progress on the terminal.

    Returns
    -------
    Discovery
    """
    budget = budget if budget is not None else Budget()
    fit_settings = fit_settings if fit_settings is not None else FitSettings()
    if not isinstance(budget, Budget):
        raise TypeError(f"budget: expected a cohortode.discover.Budget, got {type(budget).__name__}")
    if problem is None:
        problem = infer_problem(data, context=context, domain=domain)
    elif problem.data is None:
        problem = replace(problem, data=data)
    proposers: list[tuple[str, Proposer]] = []
    llm_proposer = _llm_proposer(llm)
    if llm_proposer is not None:
        proposers.append(("llm", llm_proposer))
    if motifs:
        proposers.append(("motif", MotifProposer(mutation_share=0.5)))
    if not proposers:
        raise ValueError("discover needs a proposer: pass llm=None (the embedded model) or motifs=True")
    settings = {"seed": seed, "budget": budget.to_dict(), "fit": fit_settings.to_dict(),
                "proposers": [k for k, _ in proposers], "problem": problem.describe(), "name": problem.name}
    run = None
    if run_dir is not None:
        run = RunDirectory(run_dir)
        recorded = run.settings()
        if recorded is not None:
            if not resume:
                raise FileExistsError(f"run directory {run.path} already holds a run; pass resume=True to continue "
                                      "it or choose a new folder")
            if recorded["settings"] != settings:
                raise ValueError(f"run directory {run.path} was started with other settings "
                                 f"({recorded['settings']}); resume it with the same ones or choose a new folder")
            log.info("resuming the run in %s", run.path)
        else:
            run.write_settings(settings)
        explained = problem.data if problem.data is not None else data
        if not run.has_inputs():
            run.write_inputs(problem, explained)
        elif recorded is not None:
            from ..data import CohortData, data_hash

            before = run.read_data()
            if before is not None and isinstance(explained, CohortData) and data_hash(before) != data_hash(explained):
                raise ValueError(f"run directory {run.path} was started with other cohort data (its data/ has "
                                 "another hash); resume it with the same data or choose a new folder")
    own = executor is None
    pool = default_executor() if own else executor
    loop: _Loop | None = None
    try:
        with Progress(progress, budget.wall_time) as bar:
            loop = _Loop(problem, budget, fit_settings, seed, proposers, run, pool, bar,
                         restart=default_executor if own else None)
            stopped = loop.rounds()
            loop._emit("stopped", reason=stopped, seconds=time.perf_counter() - loop.start)
            log.info("search stopped: %s", stopped)
            table, posteriors = loop.final()
    finally:
        if own:  # the loop may have replaced the pool after a screening timeout
            (loop.executor if loop is not None else pool).shutdown(wait=True, cancel_futures=True)
    loop.timings["total"] = time.perf_counter() - loop.start
    ensemble = loop.ensemble
    loop._emit("finished", timings=loop.timings, stopped=stopped, table=table.to_dict(orient="records"),
               table_dtypes={str(c): str(t) for c, t in table.dtypes.items()}, candidates=loop.records,
               fitted=list(posteriors), llm_log=loop.llm_log,
               ensemble=None if ensemble is None else {
                   "members": [{"name": m.name, "weight": m.weight} for m in ensemble.members],
                   "provenance": dict(getattr(ensemble, "provenance", None) or {})})
    return Discovery(problem, loop.records, table, loop.models, posteriors, loop.llm_log, loop.timings, stopped,
                     run.path if run is not None else None, ensemble=loop.ensemble)


