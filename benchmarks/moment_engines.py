#!/usr/bin/env python
"""Accuracy of the moment engines (Monte Carlo, sigma points, first-order linearisation).

1. **Exponential decay with log-normal IIV on the initial amount** (``dA/dt = -k A``, ``A(0) = A0 e^{eta}``,
   ``eta ~ N(0, w^2)``, ``w = 0.3``), solved by cohortode's compiled model. Exact population moments:
   ``E[A(t)] = A0 e^{-kt} e^{w^2/2}`` and ``Var[A(t)] = A0^2 e^{-2kt} (e^{w^2} - 1) e^{w^2}``. Printed: the relative
   error of each engine's mean and variance at each time.

2. **The nonlinear one-compartment oral model** (``ka, ke, V`` with IIV SD 0.3, 0.2, 0.15; 320 mg oral dose; the
   true values of ``cohorts/synthetic_onecomp_oral``): relative difference of the sigma-point (and first-order) mean
   and variance from Monte Carlo with 1024 virtual patients, at the cohort's times; MC(1024) against MC(16384) shows
   the reference's own noise.

Usage::

    python benchmarks/moment_engines.py [--omega 0.3] [--mc 4096] [--mc-ref 1024]
"""

from __future__ import annotations

import argparse

import numpy as np


def _rel(a, b):
    return (np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))


def exponential_decay(args) -> None:
    import jax.numpy as jnp

    import cohortode as co
    from cohortode.compile import DoseSchedule

    a0, k, w = 100.0, 0.2, args.omega
    model = co.ODEModel(states=["A"], rhs={"A": "-k*A"}, observables={"y": "A"}, initial={"A": "A0"},
                        parameters=[co.Parameter("A0", iiv=True), co.Parameter("k", iiv=False)], name="decay")
    compiled = co.compile_model(model)
    names = list(model.parameter_names)
    theta = jnp.asarray([{"A0": a0, "k": k}[n] for n in names])
    mask = jnp.asarray([1.0 if n == "A0" else 0.0 for n in names])
    times = (0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0)

    def f(eta):
        return compiled.simulate(theta * jnp.exp(mask * eta[0]), jnp.zeros(0), DoseSchedule(()), times)[:, 0]

    omega = jnp.asarray([w])
    t = np.asarray(times)
    exact_mean = a0 * np.exp(-k * t) * np.exp(w**2 / 2)
    exact_var = a0**2 * np.exp(-2 * k * t) * (np.exp(w**2) - 1) * np.exp(w**2)
    engines = {f"MC({args.mc})": co.MonteCarlo(args.mc), "sigma": co.SigmaPoints(), "FO": co.Linearisation()}
    moments = {name: e.moments(f, omega) for name, e in engines.items()}
    print(f"1. exponential decay, A0 = {a0}, k = {k}, log-normal IIV SD {w} on A0 only (solver "
          f"{compiled.solver}); relative error vs the exact moments")
    head = "".join(f"{f'mean {n}':>14s}" for n in engines) + "".join(f"{f'var {n}':>14s}" for n in engines)
    print(f"  {'time':>6s}{head}")
    for i, ti in enumerate(times):
        cells = "".join(f"{_rel(moments[n].mean[i], exact_mean[i]):14.2e}" for n in engines)
        cells += "".join(f"{_rel(moments[n].var[i], exact_var[i]):14.2e}" for n in engines)
        print(f"  {ti:6.1f}{cells}")
    print("  (the relative error is the same at every time because A(t) is proportional to A0: it measures "
          "E[e^eta] and Var[e^eta] alone)")
    print(f"  exact: E[e^eta] = {np.exp(w**2 / 2):.6f}, Var[e^eta] = {(np.exp(w**2) - 1) * np.exp(w**2):.6f}; "
          f"FO: 1 and {w**2:.6f}")


def onecomp_oral(args) -> None:
    import jax.numpy as jnp

    import cohortode as co
    from cohortode.compile import DoseEvent, DoseSchedule

    model = co.ODEModel(states=["depot", "central"], rhs={"depot": "-ka*depot", "central": "ka*depot - ke*central"},
                        observables={"conc": "central/V"}, name="onecomp_oral")
    compiled = co.compile_model(model)
    names = list(model.parameter_names)
    truth = {"ka": 1.5, "ke": 0.1, "V": 30.0}
    iiv = {"ka": 0.3, "ke": 0.2, "V": 0.15}
    theta = jnp.asarray([truth[n] for n in names])
    omega = jnp.asarray([iiv[n] for n in names])
    schedule = DoseSchedule((DoseEvent(0.0, model.states.index("depot"), 320.0, 0.0),))
    times = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0)

    def f(eta):
        return compiled.simulate(theta * jnp.exp(eta), jnp.zeros(0), schedule, times)[:, 0]

    ref = co.MonteCarlo(args.mc_ref).moments(f, omega)
    big = co.MonteCarlo(16384, seed=1).moments(f, omega)
    sig = co.SigmaPoints().moments(f, omega)
    fo = co.Linearisation().moments(f, omega)
    print(f"\n2. one-compartment oral (ka, ke, V = 1.5, 0.1, 30; IIV SD 0.3, 0.2, 0.15; 320 mg; solver "
          f"{compiled.solver}): relative difference from MC({args.mc_ref})")
    print(f"  {'time':>6s} {'MC mean':>9s} {'MC SD':>8s} {'sigma mean':>11s} {'sigma var':>10s} {'FO mean':>9s} "
          f"{'FO var':>9s} {'MC16k mean':>11s} {'MC16k var':>10s}")
    rows = []
    for i, ti in enumerate(times):
        r = (_rel(sig.mean[i], ref.mean[i]), _rel(sig.var[i], ref.var[i]), _rel(fo.mean[i], ref.mean[i]),
             _rel(fo.var[i], ref.var[i]), _rel(big.mean[i], ref.mean[i]), _rel(big.var[i], ref.var[i]))
        rows.append(r)
        print(f"  {ti:6.2f} {float(ref.mean[i]):9.4f} {float(np.sqrt(ref.var[i])):8.4f} {r[0]:11.2e} {r[1]:10.2e} "
              f"{r[2]:9.2e} {r[3]:9.2e} {r[4]:11.2e} {r[5]:10.2e}")
    a = np.abs(np.asarray(rows, dtype=float))
    print(f"  max |relative difference|: sigma mean {a[:, 0].max():.2e}, sigma var {a[:, 1].max():.2e}; "
          f"FO mean {a[:, 2].max():.2e}, FO var {a[:, 3].max():.2e}; MC(16384) vs MC({args.mc_ref}) mean "
          f"{a[:, 4].max():.2e}, var {a[:, 5].max():.2e}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omega", type=float, default=0.3, help="IIV SD on the initial amount (part 1)")
    parser.add_argument("--mc", type=int, default=4096, help="virtual patients of Monte Carlo in part 1")
    parser.add_argument("--mc-ref", type=int, default=1024, help="virtual patients of the reference in part 2")
    args = parser.parse_args(argv)
    exponential_decay(args)
    onecomp_oral(args)


if __name__ == "__main__":
    main()
