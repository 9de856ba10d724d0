"""`twinkit optimize --fe-budget`: FE solves chosen by constrained Bayesian optimisation, from
nothing or with the surrogate as prior; the known optimum of an analytic beam, resumption
without solving a design twice, and the model and acquisition pieces."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from beam_surrogate import BeamSurrogate, optimum

from twinkit.case import CaseError
from twinkit.optimization.bayes import fit_gp, log_h
from twinkit.optimization.driver import Options, optimize_case
from twinkit.optimization.verify import FEOutcome


class BeamFE:
    """The beam's formulas standing in for FE (they are what the FE solve converges to);
    records every design it is asked to solve."""

    def __init__(self) -> None:
        self.calls: list[dict[str, float]] = []

    def __call__(self, values):
        s = BeamSurrogate()
        y = s._formulas(np.array([[values[n] for n in s.inputs]]))[0]
        self.calls.append(dict(values))
        outputs = dict(values) | {"mass": y[0], "stress": y[1], "deflection": y[2], "tip": y[3]}
        return FEOutcome(dict(values), outputs, True, 0.0)


def _search(beam: Path, fe: BeamFE, budget: int, surrogate=None, **kw):
    opts = Options(fe_budget=budget, use_surrogate=surrogate is not None, plots=False, trials=60,
                   out=beam.parent / "out", **kw)  # fmt: skip
    summary, _ = optimize_case(beam, opts, surrogate=surrogate, solve=fe)
    return summary


def _gap(summary) -> float:
    """The best FE-feasible mass relative to the exact constrained optimum, minus 1."""
    masses = [r["outputs"]["mass"]["fe"] for r in summary["fe"]["solves"] if r["feasible"]]
    return min(masses) / optimum()["mass"] - 1


@pytest.mark.parametrize("seed", [0, 1])
def test_from_nothing_the_search_reaches_the_optimum_and_stops_on_evidence(beam, seed):
    fe = BeamFE()
    s = _search(beam, fe, budget=25, seed=seed)
    search = s["fe"]
    assert search["mode"] == "FE only" and len(fe.calls) == len(search["solves"])
    assert 0 <= _gap(s) < 0.005  # feasible (never below the optimum), within 0.5 %
    assert search["converged"] and s["verified"] and len(search["solves"]) < 25
    # stopped on the EI left: below the tolerance or the model's noise floor at the best design,
    # a floor far below the tolerance of the verification (1 %)
    floor, ei = search["noise_floor"], search["expected_improvement"]
    assert ei <= max(1e-4 * optimum()["mass"], floor)
    below = "tolerance" if ei <= 1e-4 * optimum()["mass"] else "the model's noise floor"
    assert search["stopped"] == f"expected improvement below {below}"
    assert 0 < floor < 1e-3 * optimum()["mass"]
    assert search["repeated_designs"] == 0
    best = s["best"][0]
    assert best["verification"]["outputs"]["mass"]["fe"] == pytest.approx(
        optimum()["mass"] * (1 + _gap(s))
    )  # the answer is the best FE-feasible design solved, not a prediction


def test_the_search_does_not_depend_on_the_objectives_unit(beam):
    """The same search with the mass in grams: the same designs, the same stop, the EI left
    1,000 times larger. (The EI of a log-modelled objective is relative; it was compared with the
    tolerance times the objective as if it were in the objective's units, so the unit moved the
    stop.)"""
    from beam_surrogate import BEAM_CASE

    class Grams(BeamFE):
        def __call__(self, values):
            out = super().__call__(values)
            out.outputs["mass"] *= 1000.0
            return out

    grams = beam.parent / "grams.yaml"
    grams.write_text(BEAM_CASE.replace("name: beam", "name: beam_g"))
    runs = []
    for path, fe in ((beam, BeamFE()), (grams, Grams())):
        opts = Options(fe_budget=25, use_surrogate=False, plots=False, out=path.parent / path.stem)
        summary, _ = optimize_case(path, opts, solve=fe)
        runs.append((summary["fe"], fe.calls))
    (kg, kg_calls), (g, g_calls) = runs
    assert g_calls == kg_calls and g["stopped"] == kg["stopped"] and kg["converged"]
    assert g["expected_improvement"] == pytest.approx(1000 * kg["expected_improvement"], rel=1e-6)
    assert g["noise_floor"] == pytest.approx(1000 * kg["noise_floor"], rel=1e-6)


def test_with_the_surrogate_as_prior_a_few_solves_suffice(beam):
    fe = BeamFE()
    s = _search(beam, fe, budget=10, surrogate=BeamSurrogate())
    assert s["fe"]["mode"] == "surrogate prior" and s["trials"]["complete"] == 60
    assert len(fe.calls) <= 3 and s["verified"] and 0 <= _gap(s) < 0.005


def test_a_biased_overconfident_prior_is_corrected_and_its_misses_are_shown(beam):
    """The prior under-predicts the deflection by 10 % with a stated std of 1 %: its optimum is
    infeasible by FE, a 10σ miss that the summary reports; the search still ends feasible."""
    fe = BeamFE()
    s = _search(beam, fe, budget=10, surrogate=BeamSurrogate(bias=0.9))
    first = s["fe"]["solves"][0]["outputs"]["deflection"]
    assert first["miss_sigma"] == pytest.approx((first["fe"] - first["predicted"]) / first["std"])
    assert first["miss_sigma"] > 5
    assert len(fe.calls) <= 5 and s["verified"] and 0 <= _gap(s) < 0.005


class StressBiased(BeamSurrogate):
    """The prior says the root stress is 80 % of what FE gives, with a stated std of 1 %."""

    def _formulas(self, x):
        y = super()._formulas(x)
        y[:, 1] *= 0.8
        return y


def test_a_miss_on_an_output_that_cannot_matter_stops_the_search_not_a_near_repeat(beam):
    """Limits so loose that the optimum is the lightest corner of the box, where the stress is
    at 40 % of its limit. The first solve is that corner, and the prior's stress there is 25σ off.
    Widened until it would have covered that miss, the stress still leaves no expected
    improvement, so the search stops (converged) instead of solving a design next to the one it
    just solved, as it did when any miss meant going on."""
    from beam_surrogate import BEAM_CASE

    loose = beam.parent / "loose.yaml"
    loose.write_text(BEAM_CASE.replace("max: 150 MPa", "max: 10 GPa").replace("0.2 mm", "1 m"))
    fe = BeamFE()
    s = _search(loose, fe, budget=10, surrogate=StressBiased())
    rows = s["fe"]["solves"]
    assert rows[0]["design"] == pytest.approx({"thickness": 4e-3, "width": 10e-3})
    assert rows[0]["outputs"]["stress"]["miss_sigma"] > 20
    assert s["verified"] and s["fe"]["converged"] and len(fe.calls) == 1, fe.calls
    # the summary says which model it asked besides the fitted one: the stress's std × 25/3
    miss = rows[0]["outputs"]["stress"]["miss_sigma"]
    assert s["fe"]["widened"] == {"stress": pytest.approx(miss / 3)}


def test_a_pessimistic_overconfident_prior_does_not_stop_the_search_at_its_own_optimum(beam):
    """The prior over-predicts the deflection by 10 % with a stated std of 1 %: its optimum is
    feasible by FE but 9 % heavier than the real one. The model, widened by that miss (its
    deflection 9σ off), still sees the improvement, and the search goes on to the optimum."""
    fe = BeamFE()
    s = _search(beam, fe, budget=10, surrogate=BeamSurrogate(bias=1.1))
    first = s["fe"]["solves"][0]
    assert first["feasible"] and first["outputs"]["deflection"]["miss_sigma"] < -5
    assert first["outputs"]["mass"]["fe"] > 1.05 * optimum()["mass"]
    assert s["verified"] and 0 <= _gap(s) < 0.005 and len(fe.calls) <= 6


def test_a_rerun_continues_the_study_and_never_solves_a_design_twice(beam):
    fe = BeamFE()
    first = _search(beam, fe, budget=4)
    assert len(fe.calls) == 4 and not first["verified"] and first["fe"]["stopped"] == "budget"
    more = BeamFE()
    second = _search(beam, more, budget=7)
    assert len(more.calls) == 3 and second["fe"]["this_run"] == 3
    assert [r["design"] for r in second["fe"]["solves"][:4]] == [
        r["design"] for r in first["fe"]["solves"]
    ]
    seen = {json.dumps(c, sort_keys=True) for c in fe.calls + more.calls}
    assert len(seen) == 7
    again = BeamFE()
    _search(beam, again, budget=7)
    assert again.calls == []  # the study already holds 7 solves


def test_failed_solves_are_kept_and_avoided(beam):
    """Solves fail above 11 mm thickness, where the optimum lies: each failure counts against
    the budget, is stored as failed, is never feasible and is not proposed again."""

    class Failing(BeamFE):
        def __call__(self, values):
            out = super().__call__(values)
            if values["thickness"] > 11e-3:
                return FEOutcome(out.values, {}, False, 0.0, "diverged")
            return out

    fe = Failing()
    s = _search(beam, fe, budget=12, seed=0)
    rows = s["fe"]["solves"]
    assert any(not r["converged"] for r in rows) and s["fe"]["repeated_designs"] == 0
    assert all(r["feasible"] is False for r in rows if not r["converged"])
    assert s["best"][0]["design"]["thickness"] <= 11e-3 and len(fe.calls) == len(rows)


def test_options_that_do_not_go_together_are_case_errors(beam):
    with pytest.raises(CaseError, match="--no-surrogate needs --fe-budget"):
        optimize_case(beam, Options(use_surrogate=False, verify=0))
    with pytest.raises(CaseError, match="not with --robust"):
        optimize_case(beam, Options(fe_budget=3, robust=1.0))
    with pytest.raises(CaseError, match="--ei-tolerance"):
        optimize_case(beam, Options(fe_budget=3, ei_tolerance=0.0))
    with pytest.raises(CaseError, match="--fe-workers 0: expected 1 or more"):
        optimize_case(beam, Options(fe_budget=3, fe_workers=0))


def test_cli_fe_search_from_nothing_on_real_fe(beam, cli):
    """The beam solved by FE (elasticity, a coarse box): one progress line per FE solve."""
    r = cli("optimize", beam, "--fe-budget", "4", "--no-surrogate", "--out", "o")
    assert r.returncode in (0, 1), r.output
    assert [f"FE solve {i}:" in r.output for i in (1, 2, 3, 4)] == [True] * 4
    s = json.loads((beam.parent / "o/summary.json").read_text())
    assert len(s["fe"]["solves"]) == 4 and s["surrogate"] == "none"
    r = cli("optimize", beam, "--no-surrogate")
    assert r.returncode == 2 and "--no-surrogate needs --fe-budget" in r.output


class BeamRounds(BeamFE):
    """`BeamFE` that solves a round's designs together, as `FEWorkers.many` does, and records
    how many each round had."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[int] = []

    def many(self, batch, keep=()):
        self.rounds.append(len(batch))
        return [self(v) for v in batch]


@pytest.mark.parametrize("seed", [0, 1])
def test_in_rounds_of_three_the_search_needs_fewer_rounds_than_one_at_a_time(beam, seed):
    """`fe_workers=3`: each round proposes up to three designs (kriging believer) and solves them
    together. From nothing it reaches the optimum within 0.5 % and stops on the EI, never solving a
    design twice, in fewer rounds (the wall time, with a worker per design) than the serial search
    needs solves; a round holds a design only where its EI is above the stop's threshold."""
    runs = {}
    for q in (1, 3):
        fe = BeamRounds()
        opts = Options(fe_budget=25, use_surrogate=False, plots=False, seed=seed, fe_workers=q,
                       out=beam.parent / f"q{q}")  # fmt: skip
        summary, _ = optimize_case(beam, opts, solve=fe)
        runs[q] = (summary, fe)
    (serial, one), (batched, three) = runs[1], runs[3]
    assert len(one.calls) == len(serial["fe"]["solves"]) and one.rounds == [1] * len(one.calls)
    s = batched["fe"]
    assert s["workers"] == 3 and sum(three.rounds) == len(three.calls) == len(s["solves"])
    assert max(three.rounds) == 3 and all(1 <= r <= 3 for r in three.rounds)
    assert len(three.rounds) < len(one.calls)
    assert 0 <= _gap(batched) < 0.005 and s["converged"] and batched["verified"]
    assert s["repeated_designs"] == 0


def test_in_rounds_with_the_surrogate_as_prior_one_round_suffices(beam):
    fe = BeamRounds()
    s = _search(beam, fe, budget=10, surrogate=BeamSurrogate(), fe_workers=3)
    assert fe.rounds == [len(fe.calls)] and len(fe.calls) <= 3
    assert s["verified"] and 0 <= _gap(s) < 0.005


def test_cli_fe_search_on_two_worker_processes_and_a_worker_that_dies(beam, cli):
    """`--fe-workers 2` on real FE: the rounds' designs are solved on two processes, the best
    design's field drawn by the worker that solved it. A worker killed between rounds makes its
    design a failed solve with the reason, and the next round gets a new worker."""
    import os
    import signal

    from twinkit.case import load_case
    from twinkit.optimization.fe_workers import FEWorkers

    r = cli("optimize", beam, "--fe-budget", "5", "--no-surrogate", "--fe-workers", "2",
            "--out", "o")  # fmt: skip
    assert r.returncode in (0, 1), r.output
    s = json.loads((beam.parent / "o/summary.json").read_text())
    assert s["fe"]["workers"] == 2 and len(s["fe"]["solves"]) == 5
    assert s["fe"]["repeated_designs"] == 0 and (beam.parent / "o/displacement.png").is_file()
    r = cli("optimize", beam, "--fe-workers", "2")
    assert r.returncode == 2 and "--fe-workers: only with --fe-budget" in r.output

    loaded = load_case(beam, check_regions=False)
    values = loaded.case.parameter_values()
    with FEWorkers(loaded, 2) as workers:
        first = workers.many([values, values])
        assert all(fe.converged and fe.result is None for fe in first)
        assert first[0].outputs == pytest.approx(first[1].outputs)
        for pid in list(workers._pools[0]._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        dead, alive = workers.many([values, values])
        assert not dead.converged and dead.message.startswith("FE worker failed")
        assert alive.converged
        again = workers.many([values])[0]
        assert again.converged and again.outputs == pytest.approx(first[0].outputs)


# ---- the pieces ------------------------------------------------------------------------------
def test_log_h_is_log_of_phi_plus_z_Phi_and_finite_far_out():
    from scipy.stats import norm

    z = np.array([-30.0, -5.0, -1.5, -0.5, 0.0, 2.0])
    direct = np.log(norm.pdf(z) + z * norm.cdf(z))
    assert np.allclose(log_h(z), direct, rtol=1e-6)
    far = log_h(np.array([-1e2, -1e4, -1e6]))
    assert np.all(np.isfinite(far)) and np.all(np.diff(far) < 0)
    # asymptotically log h(z) ≈ -z²/2 - log(√(2π)) - 2 log|z|
    assert far[2] == pytest.approx(-0.5e12 - 0.5 * math.log(2 * math.pi) - 2 * math.log(1e6))


def test_the_gp_interpolates_fe_values_and_is_uncertain_away_from_them():
    rng = np.random.default_rng(0)
    u = rng.random((12, 2))
    z = np.sin(3 * u[:, 0]) + u[:, 1] ** 2
    gp = fit_gp(u, (z - z.mean()) / z.std())
    mean, std = gp.predict(u)
    assert np.allclose(mean * z.std() + z.mean(), z, atol=1e-3 * z.std())
    assert std.max() < 0.01
    far_mean, far_std = gp.predict(np.array([[0.5, 0.5], [2.0, 2.0]]))
    assert far_std[1] > 10 * std.max()
    assert fit_gp(np.zeros((0, 2)), np.zeros(0)) is None


def test_neither_the_gps_nor_a_surrogates_fit_imports_torchs_compiler():
    """torch.optim imports torch._dynamo (1.5 s CPU in every process): the project's L-BFGS
    fits the FE search's GPs and the ensembles instead, and a fit sets torch's deterministic
    switch without it."""
    code = (
        "import sys, numpy as np\n"
        "from twinkit.optimization.bayes import fit_gp\n"
        "from twinkit.surrogates import FitConfig, TrainConfig, fit_surrogate, from_dataset\n"
        "from twinkit.surrogates.synthetic import fin_dataset\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.random((12, 2))\n"
        "assert fit_gp(x, rng.standard_normal(12)) is not None\n"
        "data = from_dataset(fin_dataset(16, 4, nx=4))\n"
        "fit_surrogate(data, FitConfig(train=TrainConfig(members=2, epochs=5)))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_ei_of_a_log_modelled_objective_is_relative_and_a_solved_design_has_a_noise_floor():
    """A positive objective is modelled by its log, so its EI is a relative improvement:
    `improvement` gives it in the objective's units. A solved design's FE value is known to the
    GP only up to its noise term, so even it has an EI, φ(0) × its std (`noise_floor`)."""
    from scipy.stats import qmc

    from twinkit.optimization.bayes import GoalModels
    from twinkit.optimization.goals import Goals

    goals = Goals((("mass", "minimize"),), (), {"mass": "kg"})
    u = qmc.Sobol(2, scramble=True, seed=0).random(8)
    y = 2.0 + u[:, 0] + u[:, 1] ** 2
    m = GoalModels(goals, None, u, {"mass": y})
    assert m.log["mass"]
    assert m.improvement(math.log(1e-3), 4.0) == pytest.approx(4e-3)
    assert m.improvement(-math.inf, 4.0) == 0.0
    _, std = m.predict_values(u[:1])
    floor = m.noise_floor(u[:1])
    assert floor == pytest.approx(std["mass"][0] / math.sqrt(2 * math.pi))
    assert 0 < floor < 0.01 * y.std()  # the noise term: 1e-3 of the GP amplitude in std
    negative = GoalModels(goals, None, u, {"mass": -y})
    assert not negative.log["mass"]
    assert negative.improvement(math.log(1e-3), -4.0) == pytest.approx(1e-3)


def test_a_missed_output_is_widened_until_it_covers_the_miss_and_the_noise_floor_is_not():
    """`miss_factors`: per output, the std's factor that puts the FE value at 3 std (1 where it
    was within); None for a failed solve or one without a prediction. `GoalModels.widened`
    multiplies that output's std, leaves its mean and the other outputs alone, and not the noise
    floor (FE's noise is no larger because the model missed)."""
    from scipy.stats import qmc

    from twinkit.optimization.bayes import GoalModels
    from twinkit.optimization.fe_search import miss_factors
    from twinkit.optimization.fe_solves import Solve
    from twinkit.optimization.goals import Bound, Goals

    def solve(outputs, predicted, converged=True):
        return Solve(0, {}, outputs, converged, "", 0.0, predicted)

    s = solve({"a": 10.0, "b": 1.0}, {"a": [1.0, 1.0], "b": [1.0, 0.5]})
    assert miss_factors(s) == pytest.approx({"a": 3.0, "b": 1.0})
    assert miss_factors(solve({"a": 1.0}, {"a": [math.nan, math.nan]})) is None
    assert miss_factors(solve({"a": 1.0}, {"a": [1.0, 1.0]}, converged=False)) is None
    assert miss_factors(solve({"a": 2.0}, {"a": [1.0, 0.0]})) is None  # sure and wrong

    goals = Goals((("mass", "minimize"),), (Bound("defl", "max", 3.0, "m", "3 m"),), {"mass": "kg"})
    u = qmc.Sobol(2, scramble=True, seed=0).random(8)
    values = {"mass": 2.0 + u[:, 0], "defl": 1.0 + u[:, 1]}
    plain = GoalModels(goals, None, u, values)
    wide = plain.widened({"defl": 4.0})
    x = np.array([[0.3, 0.6], [0.9, 0.1]])
    (m0, s0), (m1, s1) = plain.predict_values(x), wide.predict_values(x)
    assert np.allclose(m1["defl"], m0["defl"]) and np.allclose(s1["defl"], 4 * s0["defl"])
    assert np.allclose(s1["mass"], s0["mass"])
    assert plain.widen == {}  # a copy: the model itself is not widened
    mass_wide = plain.widened({"mass": 4.0})
    assert mass_wide.noise_floor(u[:1]) == pytest.approx(plain.noise_floor(u[:1]))
    _, s2 = mass_wide.predict_values(u[:1])
    assert s2["mass"][0] == pytest.approx(4 * plain.predict_values(u[:1])[1]["mass"][0])


def test_a_prior_its_fe_results_reject_is_mixed_with_the_gp_of_the_fe_values():
    """A surrogate 5 of its stds off at the solved designs and wrong in shape (the deflection
    falls along x1 by the surrogate, not by FE): the GP of its errors alone carries the error seen
    there across the box and is sure of a wrong value far away; the mixture with the GP of the FE
    values covers the truth there. A surrogate whose misses are within its std, or one with
    fewer than d + 2 FE results, is used alone."""
    from twinkit.optimization.bayes import GoalModels, rejects
    from twinkit.optimization.goals import Bound, Goals

    goals = Goals((("mass", "minimize"),), (Bound("defl", "max", 3.0, "m", "3 m"),), {"mass": "kg"})

    def truth(x):
        return {"mass": 1.0 + x[:, 0], "defl": 2.0 + 0.3 * x[:, 0]}

    def prior_of(defl_mean, defl_std):
        def prior(x):
            n = len(x)
            mean = {"mass": 1.0 + x[:, 0], "defl": defl_mean(x)}
            return mean, {"mass": np.full(n, 1e-3), "defl": np.full(n, defl_std)}

        return prior

    u = np.array([[0.0, 0.0], [0.5, 0.1], [1.0, 0.0], [0.5, 0.0]])  # d + 2: mixing may start
    far = np.array([[0.5, 1.0]])
    wrong = GoalModels(goals, prior_of(lambda x: 1.0 + 0.3 * x[:, 0] - x[:, 1], 0.2), u,
                       truth(u))  # fmt: skip
    assert "defl" in wrong.fe_only and "mass" not in wrong.fe_only
    mean, std = wrong.predict_values(far)
    assert abs(mean["defl"][0] - truth(far)["defl"][0]) < 3 * std["defl"][0]
    wrong.fe_only.clear()  # the GP of the surrogate's errors alone
    alone, alone_std = wrong.predict_values(far)
    assert abs(alone["defl"][0] - truth(far)["defl"][0]) > 3 * alone_std["defl"][0]

    fewer = GoalModels(goals, wrong.prior, u[:3], truth(u[:3]))
    assert fewer.fe_only == {}  # fewer than d + 2 results: the surrogate's model alone
    right = GoalModels(goals, prior_of(lambda x: truth(x)["defl"] + 0.1, 0.2), u, truth(u))
    assert right.fe_only == {}
    assert rejects(np.array([2.05, 2.2])) and not rejects(np.array([0.5, -1.2, 0.8]))
    assert not rejects(np.array([5.0]))  # one miss: not yet evidence against the std
