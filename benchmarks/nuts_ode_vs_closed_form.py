#!/usr/bin/env python
"""NUTS through the ODE paths versus a closed-form solution, compile time of a new structure, and cost scaling.

Four measurements, in one run (about 10 minutes on two CPU cores, most of it the Tsit5 chains):

1. **Effective samples per second.** The one-compartment oral model on the bundled ``synthetic_onecomp_oral`` cohort,
   fitted with the same likelihood (sigma points, proportional residual error by default), the same data-scaled
   priors and the same NUTS settings (forward-mode gradients, started at one shared MAP) through

   a. the ODE path with ``solver="tsit5"`` (diffrax),
   b. ``solver="linear"`` (the exact solution; what ``"auto"`` picks for linear systems; for this two-state model the
      closed form of ``exp(A t)`` that ``cohortode.compile`` derives for any 2 x 2 system, see ``docs/methods.md``),
   c. the analytic solution ``conc = D ka / (V (ka - ke)) (exp(-ke t) - exp(-ka t))`` written in JAX and put in place
      of ``likelihood.compiled``.

   What is timed: the *sampling phase* only (``num_samples`` draws per chain after warm-up), compile excluded. Per
   path the NUTS kernel's warm-up and sampling loops are jitted once (``lax.scan`` over ``kernel.sample``) and every
   chain reuses them: each chain's warm-up (step size and mass matrix adaptation) is run and timed separately and not
   counted; the first chain's sampling phase is run once untimed to compile it, then timed. ESS/s = min over sampled parameters of the bulk ESS (arviz, all chains of a run) / sampling
   seconds. The min-ESS of one run scatters by about 20 % between seeds although the posterior and the sampler are
   the same, so the linear and closed-form paths make ``--replicates`` independent runs (fresh keys, same settings)
   and their ESS/s is summed min-ESS over summed seconds; Tsit5, 100 times slower, makes one run. Also printed:
   milliseconds per leapfrog step (one gradient each), the cost measure without sampler noise.

2. **Compile time of a new structure.** A two-compartment model with Michaelis-Menten elimination (nonlinear, so the
   Tsit5 path) on the ``synthetic_twocomp_iv`` cohort: seconds from constructing ``AggregateLikelihood`` to the
   first result of the jitted forward-mode value-and-gradient of the log posterior, in a fresh Python process with
   JAX's persistent compilation cache in a new, empty directory (cold), then in a second process reusing that
   directory (warm). Import time is excluded and printed separately.

3. **Cost versus virtual patients**: one likelihood-and-gradient evaluation (forward mode, all sites) with
   MonteCarlo n = 16, 64, 256, 1024 and with sigma points, for the linear and the Tsit5 paths.

4. **Cost versus states**: chains of 2, 4 and 8 linear compartments (IIV on every rate and the volume), sigma
   points, Tsit5 and linear paths; distinct rates, and equal ones (the defective case that the linear path hands to
   its fixed-cost fallback).

Usage::

    python benchmarks/nuts_ode_vs_closed_form.py [--num-warmup 500] [--num-samples 1000] [--num-chains 2]
        [--replicates 20] [--seed 0] [--error proportional] [--skip-compile-probe] [--skip-scaling]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SCRIPT = os.path.abspath(__file__)
ONECOMP = dict(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
               observables={"conc": "central/V"})
MM_TWOCOMP = dict(states=["central", "peripheral"],
                  rhs={"central": "-Vmax*central/(Km*V1 + central) - k12*central + k21*peripheral",
                       "peripheral": "k12*central - k21*peripheral"},
                  observables={"conc": "central/V1"})


# ------------------------------------------------------------------------------------------------- compile probe
def compile_probe(cache_dir: str) -> None:
    """Run in a child process: time a fresh structure from likelihood construction to the first value-and-gradient."""
    t_import = time.perf_counter()
    import jax

    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import cohortode as co
    from cohortode.infer import BayesianProblem

    data = co.load_cohort("synthetic_twocomp_iv")
    model = co.ODEModel(**MM_TWOCOMP, name="twocomp_mm")
    t_import = time.perf_counter() - t_import

    t0 = time.perf_counter()
    lik = co.AggregateLikelihood(model, data, engine="sigma", error="proportional")
    problem = BayesianProblem.build(lik)
    t_build = time.perf_counter() - t0
    from cohortode.infer._optimize import forward_value_and_grad

    z0 = jax.numpy.asarray(problem.initial_point())
    vg = jax.jit(forward_value_and_grad(problem.log_density, problem.dimension))  # what find_map compiles
    t1 = time.perf_counter()
    lowered = vg.lower(z0)  # tracing (sympy-generated JAX code, diffrax, sigma points, forward mode) and lowering
    t_lower = time.perf_counter() - t1
    t1 = time.perf_counter()
    compiled = lowered.compile()  # XLA compilation (or a persistent-cache hit)
    t_compile = time.perf_counter() - t1
    value, grad = jax.block_until_ready(compiled(z0))
    t_total = time.perf_counter() - t0
    n_cache = sum(len(files) for _, _, files in os.walk(cache_dir))
    t1 = time.perf_counter()
    jax.block_until_ready(vg(z0 + 0.01))
    t_eval = time.perf_counter() - t1
    # a whole one-start MAP fit of the same structure, as the discovery loop runs it (new likelihood object)
    t1 = time.perf_counter()
    co.fit(model, data, "map", engine="sigma", error="proportional", n_starts=1)
    t_map = time.perf_counter() - t1
    print(json.dumps({"import_s": t_import, "build_s": t_build, "jit_first_call_s": t_total - t_build,
                      "lower_s": t_lower, "compile_s": t_compile, "cache_files": n_cache,
                      "total_s": t_total, "eval_s": t_eval, "map_fit_s": t_map,
                      "solver": lik.compiled.solver, "n_sites": int(z0.shape[0]),
                      "finite": bool(jax.numpy.isfinite(value) and jax.numpy.all(jax.numpy.isfinite(grad)))}))


# ----------------------------------------------------------------------------------------------------- helpers
def _time_calls(fn, args_list, min_calls=3, budget_s=2.0):
    """Compile-and-first-call seconds, and the median seconds of later calls."""
    import jax

    t = time.perf_counter()
    jax.block_until_ready(fn(args_list[0]))
    first = time.perf_counter() - t
    times = []
    start = time.perf_counter()
    i = 1
    while len(times) < min_calls or (time.perf_counter() - start < budget_s and len(times) < 50):
        t = time.perf_counter()
        jax.block_until_ready(fn(args_list[i % len(args_list)]))
        times.append(time.perf_counter() - t)
        i += 1
    times.sort()
    return first, times[len(times) // 2]


class ClosedFormOneComp:
    """Drop-in for ``CompiledModel`` of the one-compartment oral model: the analytic solution in JAX.

    ``conc(t) = sum_doses D ka / (V (ka - ke)) (exp(-ke (t - t_d)) - exp(-ka (t - t_d)))`` for bolus doses into the
    depot (``t >= t_d``).
    """

    solver = "closed_form"

    def __init__(self, compiled):
        self.model = compiled.model
        self.options = compiled.options
        names = list(self.model.parameter_names)
        self._iv, self._ika, self._ike = names.index("V"), names.index("ka"), names.index("ke")
        self._depot = list(self.model.states).index("depot")

    def simulate(self, params, cov, schedule, times, batch_axis=None):
        import jax.numpy as jnp

        params = jnp.asarray(params, dtype=jnp.float64)
        v, ka, ke = params[self._iv], params[self._ika], params[self._ike]
        t = jnp.asarray(times, dtype=jnp.float64)
        conc = jnp.zeros_like(t)
        for ev in schedule.events:
            if ev.state != self._depot or ev.duration != 0:
                raise NotImplementedError("closed form written for bolus doses into the depot only")
            dt = jnp.maximum(t - ev.time, 0.0)
            c = ev.amount * ka / (v * (ka - ke)) * (jnp.exp(-ke * dt) - jnp.exp(-ka * dt))
            conc = conc + jnp.where(t >= ev.time, c, 0.0)
        return conc[:, None]


# ----------------------------------------------------------------------------------------------------- 1. NUTS
def _phases(kernel, num_warmup: int, num_samples: int):
    """Jitted warm-up and sampling loops of a NumPyro kernel, compiled once and reused by every chain.

    ``MCMC.run`` retraces (and reloads or recompiles) its loop on every call, which would put that overhead into the
    timed sampling of each chain; here the warm-up (adaptation while ``state.i < num_warmup``, inside the kernel) and
    the sampling loop are each one ``lax.scan`` of ``kernel.sample``.
    """
    import jax
    from jax import lax

    sample = kernel.sample

    @jax.jit
    def warmup_phase(state):
        return lax.scan(lambda s, _: (sample(s, (), {}), None), state, None, length=num_warmup)[0]

    @jax.jit
    def sampling_phase(state):
        def step(s, _):
            s = sample(s, (), {})
            return s, (s.z, s.num_steps, s.diverging)
        return lax.scan(step, state, None, length=num_samples)[1]
    return warmup_phase, sampling_phase


def nuts_comparison(args) -> dict:
    import arviz as az
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer import NUTS

    import cohortode as co
    from cohortode.infer import BayesianProblem, find_map

    data = co.load_cohort("synthetic_onecomp_oral")
    model = co.ODEModel(**ONECOMP, name="onecomp_oral")
    liks = {
        "tsit5": co.AggregateLikelihood(model, data, engine="sigma", error=args.error, solver="tsit5"),
        "linear": co.AggregateLikelihood(model, data, engine="sigma", error=args.error, solver="linear"),
    }
    closed = co.AggregateLikelihood(model, data, engine="sigma", error=args.error, solver="linear")
    closed.compiled = ClosedFormOneComp(closed.compiled)
    liks["closed_form"] = closed
    problems = {k: BayesianProblem.build(lik) for k, lik in liks.items()}

    # the three paths agree (same model, same data): check the log-likelihood at the truth
    truth = {"V": 30.0, "ka": 1.5, "ke": 0.1, "omega_V": 0.15, "omega_ka": 0.3, "omega_ke": 0.2,
             "sigma_prop": 0.1, "sigma_add": 0.1}
    values = {k: jnp.asarray(v) for k, v in truth.items()}
    lls = {k: float(lik(values)) for k, lik in liks.items()}
    print("log-likelihood at the true parameters: " + ", ".join(f"{k} {v:.6f}" for k, v in lls.items()))
    assert all(p.priors == problems["closed_form"].priors for p in problems.values()), "priors differ"

    t = time.perf_counter()
    start = find_map(problems["closed_form"], n_starts=4, seed=args.seed)
    print(f"shared MAP start (closed form, 4 starts, {time.perf_counter() - t:.1f} s): "
          + ", ".join(f"{k}={v:.4g}" for k, v in start.values.items()))

    results = {}
    for name, problem in problems.items():
        # as cohortode.fit runs it: NumPyro NUTS on the jitted unconstrained potential, started at the shared MAP
        potential = jax.jit(lambda z, problem=problem: -problem.log_density(z))
        kernel = NUTS(potential_fn=potential, forward_mode_differentiation=True,
                      target_accept_prob=args.target_accept)
        warmup_phase, sampling_phase = _phases(kernel, args.num_warmup, args.num_samples)
        # Replicates: independent repetitions of the whole num_chains x (warm-up + draws) run with fresh keys. The
        # min-ESS of one run varies by +-20 % from run to run (sampler noise, not speed), so the fast paths are
        # repeated and ESS/s is the summed min-ESS over the summed sampling seconds; Tsit5 runs once (slow).
        reps = 1 if name == "tsit5" else args.replicates
        warm_s, sample_s, steps, div, min_ess_reps, rhats, all_chains = [], [], 0, 0, [], [], []
        compile_sample_s, worst = None, None
        for rep in range(reps):
            chains = []
            for c in range(args.num_chains):
                key = jax.random.PRNGKey(args.seed + 1000 * c + 100_000 * rep)
                t = time.perf_counter()
                state = kernel.init(key, args.num_warmup, init_params=jnp.asarray(start.unconstrained),
                                    model_args=(), model_kwargs={})
                state = jax.block_until_ready(warmup_phase(state))
                warm_s.append(time.perf_counter() - t)
                if compile_sample_s is None:  # compile the sampling loop once (all chains reuse it), not timed
                    t = time.perf_counter()
                    jax.block_until_ready(sampling_phase(state))
                    compile_sample_s = time.perf_counter() - t
                t = time.perf_counter()
                samples, num_steps, diverging = jax.block_until_ready(sampling_phase(state))
                sample_s.append(time.perf_counter() - t)
                steps += int(np.asarray(num_steps).sum())
                div += int(np.asarray(diverging).sum())
                chains.append({k: np.asarray(v) for k, v in problem.constrain(samples).items()})
            draws = {k: np.stack([ch[k] for ch in chains]) for k in problem.site_names}
            idata = az.from_dict(posterior=draws)
            ess = az.ess(idata, method="bulk")
            min_ess_reps.append(min(float(ess[k]) for k in problem.site_names))
            worst = worst or min(problem.site_names, key=lambda k: float(ess[k]))
            if args.num_chains > 1:
                rhat = az.rhat(idata)
                rhats.append(max(float(rhat[k]) for k in problem.site_names))
            all_chains.extend(chains)
        draws = {k: np.stack([ch[k] for ch in all_chains]) for k in problem.site_names}
        min_ess = float(np.sum(min_ess_reps))
        total = sum(sample_s)
        res = {"min_ess": min_ess, "min_ess_per_run": min_ess_reps, "worst": worst, "sample_s": total,
               "ess_per_s": min_ess / total, "ms_per_step": 1e3 * total / max(steps, 1), "replicates": reps,
               "steps_per_draw": steps / (reps * args.num_chains * args.num_samples),
               "warmup_s": warm_s, "first_sampling_call_s": compile_sample_s, "divergences": div,
               "max_rhat": max(rhats) if rhats else float("nan"),
               "means": {k: float(draws[k].mean()) for k in problem.site_names}}
        results[name] = res
        print(f"[{name:11s}] {reps} run(s) of {args.num_chains} chains x {args.num_samples} draws; warm-up s per chain "
              f"{', '.join(f'{w:.1f}' for w in warm_s[:4])}{' ...' if len(warm_s) > 4 else ''} (first includes "
              f"compile); first sampling call {compile_sample_s:.1f} s (compile + run, not counted); timed sampling "
              f"{total:.1f} s; {steps} leapfrog steps ({res['steps_per_draw']:.1f}/draw, {res['ms_per_step']:.3f} "
              f"ms/step); min bulk ESS per run {', '.join(f'{e:.0f}' for e in min_ess_reps)} (first run's worst: "
              f"{worst}); max R-hat {res['max_rhat']:.3f}; divergences {div}; ESS/s {res['ess_per_s']:.2f}",
              flush=True)
    print("\nposterior means per path:")
    names = problems["closed_form"].site_names
    print(f"  {'path':11s} " + " ".join(f"{k:>10s}" for k in names))
    for name, res in results.items():
        print(f"  {name:11s} " + " ".join(f"{res['means'][k]:10.4g}" for k in names))
    cf = results["closed_form"]
    print("\nNUTS effective samples per second (min bulk ESS summed over runs / timed sampling seconds):")
    for name, res in results.items():
        print(f"  {name:11s} ESS/s {res['ess_per_s']:8.2f}   ms per gradient step {res['ms_per_step']:.3f}")
    for name in ("tsit5", "linear"):
        r = results[name]["ess_per_s"] / cf["ess_per_s"]
        rs = cf["ms_per_step"] / results[name]["ms_per_step"]
        print(f"  ratio {name}/closed_form: ESS/s {r:.2f} (target >= 0.7: {'met' if r >= 0.7 else 'NOT met'}); "
              f"per-step speed {rs:.2f}")
    return results


# ------------------------------------------------------------------------------------------ 2. compile probe
def compile_time() -> None:
    cache = tempfile.mkdtemp(prefix="cohortode_jax_cache_")
    out = {}
    for label in ("cold", "warm"):
        proc = subprocess.run([sys.executable, SCRIPT, "--_compile-probe", cache], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"compile probe ({label}) failed:\n{proc.stderr[-3000:]}")
            return
        out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    print("\ncompile time of a new structure (two-compartment Michaelis-Menten, "
          f"solver {out['cold']['solver']}, {out['cold']['n_sites']} sampled sites, sigma points), "
          "from AggregateLikelihood(...) to the first jitted forward-mode value-and-gradient of the log posterior:")
    for label, r in out.items():
        print(f"  {label} persistent cache: {r['total_s']:.2f} s (build {r['build_s']:.2f} s, jit + first call "
              f"{r['jit_first_call_s']:.2f} s = trace/lower {r['lower_s']:.2f} s + XLA compile {r['compile_s']:.2f} s "
              f"+ run; cache files {r['cache_files']}); next call {1e3 * r['eval_s']:.1f} ms; finite {r['finite']}; "
              f"process import {r['import_s']:.1f} s (excluded)")
        print(f"    a whole fit(method='map', n_starts=1) of the same structure afterwards, in the same process: "
              f"{r['map_fit_s']:.2f} s")
    print(f"  target < 5 s (cold): {'met' if out['cold']['total_s'] < 5 else 'NOT met'}")


# ------------------------------------------------------------------------------------------------- 3/4. scaling
def _loglik_vg(lik, values):
    """Jitted forward-mode value-and-gradient of the log-likelihood w.r.t. every site (positive scale)."""
    import jax
    import jax.numpy as jnp

    names = list(values)
    z0 = jnp.log(jnp.asarray([values[k] for k in names]))

    def f(z):
        return lik({k: jnp.exp(z[i]) for i, k in enumerate(names)})
    from cohortode.infer._optimize import forward_value_and_grad

    return jax.jit(forward_value_and_grad(f, len(names))), z0


def scaling(args) -> None:
    import numpy as np

    import cohortode as co
    from cohortode.synthetic import Dose, SyntheticModel, simulate_cohort

    data = co.load_cohort("synthetic_onecomp_oral")
    model = co.ODEModel(**ONECOMP, name="onecomp_oral")
    values = {"V": 30.0, "ka": 1.5, "ke": 0.1, "omega_V": 0.15, "omega_ka": 0.3, "omega_ke": 0.2,
              "sigma_prop": 0.1}
    print("\ncost of one log-likelihood + gradient (forward mode, 7 sites) vs virtual patients, one-compartment oral "
          "(compile = first call; per call = median):")
    print(f"  {'engine':10s} {'points':>7s} {'linear ms':>10s} {'tsit5 ms':>10s} {'compile lin s':>14s} "
          f"{'compile tsit5 s':>16s}")
    engines = [("sigma", co.SigmaPoints())] + [(f"mc:{n}", co.MonteCarlo(n)) for n in (16, 64, 256, 1024)]
    for label, engine in engines:
        row = {}
        for solver in ("linear", "tsit5"):
            lik = co.AggregateLikelihood(model, data, engine=engine, error="proportional", solver=solver)
            vg, z0 = _loglik_vg(lik, values)
            zs = [z0 + 0.01 * i for i in range(4)]
            row[solver] = _time_calls(vg, zs, budget_s=1.5)
        print(f"  {label:10s} {engine.n_points(3):7d} {1e3 * row['linear'][1]:10.2f} {1e3 * row['tsit5'][1]:10.2f} "
              f"{row['linear'][0]:14.2f} {row['tsit5'][0]:16.2f}", flush=True)

    print("\ncost of one log-likelihood + gradient vs number of states: chains of k linear compartments "
          "(dose into x1, conc = xk/V, IIV on every parameter; sigma points). Distinct rates 2/i, the last 0.1: "
          "the linear path is the closed form (k = 2) or the eigendecomposition (k > 2); equal transit rates 2.0 "
          "make the matrix defective, and the linear path falls back to the fixed-cost exponential:")
    print(f"  {'states':>6s} {'rates':>8s} {'sites':>6s} {'sigma pts':>9s} {'linear ms':>10s} {'tsit5 ms':>10s} "
          f"{'compile lin s':>14s} {'compile tsit5 s':>16s}")
    times = [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24]
    for k, kind in ((2, "distinct"), (4, "distinct"), (8, "distinct"), (4, "equal")):
        st = [f"x{i}" for i in range(1, k + 1)]
        rates = {f"k{i}": (0.1 if i == k else (2.0 if kind == "equal" else 2.0 / i)) for i in range(1, k + 1)}
        rhs_text = {st[0]: f"-k1*{st[0]}"}
        for i in range(2, k + 1):
            rhs_text[st[i - 1]] = f"k{i - 1}*x{i - 1} - k{i}*x{i}"
        cmodel = co.ODEModel(states=st, rhs=rhs_text, observables={"conc": f"x{k}/V"}, name=f"chain{k}")

        def rhs(t, y, p, k=k):
            out = {"x1": -p["k1"] * y["x1"]}
            for i in range(2, k + 1):
                out[f"x{i}"] = p[f"k{i - 1}"] * y[f"x{i - 1}"] - p[f"k{i}"] * y[f"x{i}"]
            return out
        smodel = SyntheticModel(name=f"chain{k}", states=tuple(st), rhs=rhs,
                                observables={"conc": lambda y, p, k=k: y[f"x{k}"] / p["V"]},
                                params={**rates, "V": 30.0}, iiv={**{r: 0.2 for r in rates}, "V": 0.15},
                                residual_proportional=0.1)
        cdata = simulate_cohort(smodel, times=times, n_subjects=12, doses=[Dose(0.0, 320.0, "x1")], seed=k,
                                cohort=f"chain{k}").data
        cvalues = {**rates, "V": 30.0, **{f"omega_{r}": 0.2 for r in rates}, "omega_V": 0.15, "sigma_prop": 0.1}
        row = {}
        for solver in ("linear", "tsit5"):
            lik = co.AggregateLikelihood(cmodel, cdata, engine="sigma", error="proportional", solver=solver)
            vg, z0 = _loglik_vg(lik, cvalues)
            zs = [z0 + 0.01 * i for i in range(4)]
            row[solver] = _time_calls(vg, zs, budget_s=1.5)
            value, grad = vg(z0)
            if not (np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))):
                print(f"  warning: non-finite log-likelihood or gradient for chain {k} ({solver})")
        d = k + 1
        print(f"  {k:6d} {kind:>8s} {len(cvalues):6d} {2 * d + 1:9d} {1e3 * row['linear'][1]:10.2f} "
              f"{1e3 * row['tsit5'][1]:10.2f} {row['linear'][0]:14.2f} {row['tsit5'][0]:16.2f}", flush=True)


# -------------------------------------------------------------------------------------------------------- main
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replicates", type=int, default=20,
                        help="independent runs of the linear and closed-form paths (Tsit5: one run)")
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--error", default="proportional", choices=["additive", "proportional", "combined"])
    parser.add_argument("--skip-nuts", action="store_true", help="skip the NUTS comparison")
    parser.add_argument("--skip-compile-probe", action="store_true", help="skip the compile-time measurement")
    parser.add_argument("--skip-scaling", action="store_true", help="skip the cost-scaling tables")
    parser.add_argument("--_compile-probe", dest="compile_probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile_probe:
        compile_probe(args.compile_probe)
        return
    t0 = time.perf_counter()
    if not args.skip_compile_probe:  # first, while this process has not compiled anything yet
        compile_time()
    import cohortode  # noqa: F401  (64-bit mode)

    if not args.skip_nuts:
        print(f"\nNUTS, one-compartment oral on synthetic_onecomp_oral: sigma points, {args.error} error, "
              f"{args.num_chains} chains x ({args.num_warmup} warm-up + {args.num_samples} draws), target accept "
              f"{args.target_accept}, forward-mode gradients")
        nuts_comparison(args)
    if not args.skip_scaling:
        scaling(args)
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
