"""Run a protocol's ideal functionality and its real protocol on the same inputs, and compare.

* equivalence -- ``entry.check(ideal_out, real_out)`` (the declared error bound);
* cost model  -- the Meter's counts against ``entry.cost("crypten")``: rounds, bytes each way and offline
  bytes, in total and for every step the model names, exactly;
* obliviousness -- two secret inputs with the same public parameters give the same transcript signature;
* bad input   -- every ``BadCase`` raises its named error in the ideal functionality AND in the real run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analysis.entry import RealRun
from analysis.registry import Entry, Inputs, Params
from analysis.runs import default_backend, run_real, signature_difference  # noqa: F401  (harness.run_real ...)
from protocols.runtime import Meter

COMPARED = ("rounds", "bytes_client_to_server", "bytes_server_to_client", "offline_bytes")
#: what the HE backends are compared on (the counts SEAL and the simulator both perform)
HE_COMPARED = ("rounds", "bytes_client_to_server", "bytes_server_to_client", "key_bytes", "rotations", "pt_mults",
               "ct_adds", "ciphertexts", "key_switches", "ct_mults", "relinearizations")
HE_BACKENDS = ("seal", "sim")
#: what a HYBRID entry (HE inside an MPC protocol) adds to ``COMPARED``: the HE operations its backend
#: performed and the ciphertexts its channel handed over, against the ``crypten`` model's totals
HYBRID_HE = ("rotations", "pt_mults", "ct_adds", "ciphertexts", "key_switches", "key_bytes", "ct_mults",
             "relinearizations")
CHECKS = ("equivalence", "cost_model", "obliviousness", "bad_input")
SECURITY_CHECKS = ("security_ledger", "security_shape", "security_distribution", "security_consistency")


def measured(meter: Meter | RealRun, step: str | None = None) -> dict[str, int]:
    """The Meter's totals for the protocol (set-up seeds excluded) or for one step; for a run with HE
    counts, those too (totals only)."""
    run = meter if isinstance(meter, RealRun) else None
    meter = run.meter if run else meter
    tot = meter.totals(step)
    if step is None:
        setup = meter.totals("setup")
        tot = {k: tot[k] - (setup[k] if k != "rounds" else 0) for k in tot}
        if run is not None and run.counts:
            tot.update({k: v for k, v in run.counts.items() if k != "ops"})
    return tot


def cost_mismatches(entry: Entry, params: Params, run: Meter | RealRun, backend: str = "crypten") -> list[str]:
    """Every (step, metric) where the analytic model differs from the measurement. A hybrid entry's HE
    counts (``HYBRID_HE``: 0 when the run performed no HE) are compared on the protocol's totals: the
    backend counts a run, not a step."""
    model = entry.cost(backend, params)
    metrics = HE_COMPARED if backend in HE_BACKENDS else COMPARED
    problems = []
    for step, cost in [(None, model)] + list(model.steps):
        got = measured(run, step)
        want = cost.to_dict()
        extra = HYBRID_HE if entry.kind == "hybrid" and step is None and backend not in HE_BACKENDS else ()
        for metric in metrics + extra:
            if got.get(metric, 0) != want[metric]:
                problems.append(f"{step or 'total'}.{metric}: measured {got.get(metric, 0)} != model {want[metric]}")
    return problems


@dataclass
class ExampleResult:
    params: Params
    ideal: Any
    real: RealRun
    equivalence: list[str]
    cost: list[str]


def run_example(entry: Entry, params: Params, inputs: Inputs, *, mode: str = "threads", seed: int = 0,
                backend: str | None = None) -> ExampleResult:
    backend = backend or default_backend(entry)
    ideal = entry.ideal(params, inputs)
    real = run_real(entry, params, inputs, mode=mode, seed=seed, backend=backend)
    return ExampleResult(params, ideal, real, entry.check(ideal, real.outputs, params, inputs),
                         cost_mismatches(entry, params, real, backend) if backend in entry.costs else [])


def bad_input_problems(entry: Entry, params: Params, inputs: Inputs, *, mode: str = "threads",
                       backend: str | None = None) -> list[str]:
    """Each bad case must raise its named error in the ideal functionality and in the real run."""
    problems = []
    for case in entry.bad_cases:
        p, i = case.mutate(dict(params), dict(inputs))
        for where, call in (("ideal", lambda: (entry.validate(p, i), entry.ideal(p, i))),
                            ("real", lambda: run_real(entry, p, i, mode=mode, timeout=20.0, backend=backend))):
            try:
                call()
            except case.error:
                continue
            except Exception as exc:  # noqa: BLE001 - reported
                problems.append(f"{case.label} ({where}): raised {type(exc).__name__}: {exc}, "
                                f"expected {case.error.__name__}")
                continue
            problems.append(f"{case.label} ({where}): accepted, expected {case.error.__name__}")
    return problems


@dataclass
class CheckResult:
    check: str
    examples: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {"check": self.check, "passed": self.passed, "examples": self.examples, "failures": self.failures[:5]}


def verify(entry: Entry, *, examples: int = 10, seed: int = 0, mode: str = "threads",
           backend: str | None = None, security_runs: int = 0, params: Params | None = None) -> list[CheckResult]:
    """Draw ``examples`` Hypothesis examples (seeded) and run every check; failures are collected.

    ``params`` (public parameters already resolved, ``entry.resolve(overrides)``; ``privmoe verify --set``)
    pins the public parameters of every example: Hypothesis then draws only the inputs. Without it, each
    example draws its parameters from ``entry.params_strategy()`` (small sizes).

    ``security_runs`` > 0 adds the security checks (``analysis/security.py``: the exact mask ledger, the
    views' shape, and the statistical tests with that many runs per family of views) on an example drawn
    from the entry's domain (not the minimal one; at the pinned ``params`` if given) and its contrast pairs."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    results = {c: CheckResult(c) for c in CHECKS}
    state = {"bad_done": False}
    pinned = dict(params) if params is not None else None

    @hyp_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def body(data):
        params = pinned if pinned is not None else data.draw(entry.params_strategy(), label="params")
        a = data.draw(entry.inputs_strategy(params), label="inputs_a")
        b = data.draw(entry.inputs_strategy(params), label="inputs_b")
        ex = run_example(entry, params, a, mode=mode, seed=seed, backend=backend)
        results["equivalence"].examples += 1
        results["equivalence"].failures += [f"{params}: {m}" for m in ex.equivalence]
        results["cost_model"].examples += 1
        results["cost_model"].failures += [f"{params}: {m}" for m in ex.cost]
        other = run_real(entry, params, b, mode=mode, seed=seed + 1, backend=backend)
        results["obliviousness"].examples += 1
        diff = signature_difference(ex.real, other)
        if diff:
            results["obliviousness"].failures.append(f"{params}: transcripts differ at {diff}")
        state.setdefault("first", (params, a, b))
        if not state["bad_done"]:
            state["bad_done"] = True
            results["bad_input"].examples += len(entry.bad_cases)
            results["bad_input"].failures += bad_input_problems(entry, params, a, mode=mode, backend=backend)

    body()
    out = [results[c] for c in CHECKS]
    if security_runs > 0:
        out += security_results(entry, security_runs, seed, pinned)
    return out


def security_results(entry: Entry, runs: int, seed: int, params: Params | None = None) -> list[CheckResult]:
    """The security checks of ``analysis/security.py`` as CheckResults (``security_ledger`` ...), on
    ``params`` if given (resolved), else on parameters drawn from the entry's strategy."""
    from analysis.security import security_check
    from analysis.strategies import draw_example_inputs, draw_example_params

    params = dict(params) if params is not None else draw_example_params(entry, seed)
    found = security_check(entry, params, draw_example_inputs(entry, params, seed), runs=runs, seed=seed)
    return [CheckResult(f"security_{k}", examples=runs, failures=v) for k, v in found.items()]
