"""SecMoE's GeLU (``secmoe.gelu``, Protocol 2): the fit against the published accuracy and against its own
rule, the segment edges, the measured communication against the 12-piece protocols, the paper-literal binary
variant, and the claims table. The generic checks (equivalence within the bound, Meter == model,
obliviousness, bad inputs) are ``tests/test_registry_generic.py``'s."""
import math

import pytest
import torch

import functionalities.activation as A
import functionalities.gelu as F
import protocols.mpc.secmoe_gelu as P
from analysis import harness, registry
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.cost_models.cost import Cost
from analysis.entries.gelu import EDGES, bound, errors
from analysis.gelu_claims import PUBLISHED_REDUCTION_VS_BUMBLEBEE, fit_accuracy, gelu_claims_table
from functionalities.fixed_point import ULP
from protocols.mpc.sharing import held, reconstruct, share_input
from protocols.runtime import run_two_party

W = 8  # bytes per ring element


def _grid(breakpoints=F.BREAKPOINTS) -> torch.Tensor:
    """Step 1e-4 on [-12, 12] and every breakpoint with its fixed-point neighbours (the discontinuities)."""
    bps = torch.tensor(breakpoints, dtype=torch.float64)
    return torch.cat([torch.linspace(-12, 12, 240001, dtype=torch.float64), bps - ULP, bps, bps + ULP])


def _max_error(breakpoints) -> float:
    pw = F.fit_pieces(breakpoints)
    x = _grid(breakpoints)
    return float((F.evaluate(x, pw) - F.exact(x)).abs().max())


# -- (a) the fit against the published accuracy ---------------------------------------------------------------

def test_fit_beats_the_published_max_error_and_holds_its_stated_numbers():
    x = _grid()
    err = (F.gelu(x) - F.exact(x)).abs()
    lo, hi = F.BREAKPOINTS[0], F.BREAKPOINTS[-1]
    mean_pieces = float(err[(x >= lo) & (x <= hi)].mean())
    mean_5 = float(err[(x >= -5) & (x <= 5)].mean())
    assert float(err.max()) <= F.STATED_MAX_ERROR <= F.PUBLISHED_MAX_ERROR
    assert mean_pieces <= F.STATED_MEAN_ERROR
    # the honest deviation (documented in functionalities/gelu.py and the claims table): on the pieces' own
    # interval our mean is above the published 1.7e-3; on [-5, 5] it is below. The paper does not say which.
    assert mean_pieces > F.PUBLISHED_MEAN_ERROR > mean_5


def test_max_error_is_at_least_the_tails_error_at_the_outer_breakpoints():
    """Below P0 the function is 0 and from P4 on it is x, so the error just below P0 = -v is |GeLU(-v)| =
    v Phi(-v) (to first order in one ULP) and at P4 = v it is v - GeLU(v) = v Phi(-v): a lower bound of the max
    error, derived, not measured."""
    v = F.BREAKPOINTS[-1]
    tail = v * 0.5 * math.erfc(v / math.sqrt(2))
    x = torch.tensor([F.BREAKPOINTS[0] - ULP, F.BREAKPOINTS[-1]], dtype=torch.float64)
    assert (F.gelu(x) - F.exact(x)).abs().max() == pytest.approx(tail, rel=1e-3)
    assert _max_error(F.BREAKPOINTS) >= tail


def test_the_breakpoints_are_a_local_minimax_on_the_64th_grid():
    """The rule of functionalities/gelu.py: no move of one breakpoint, or of a mirrored pair, by 1/64 lowers
    the max error."""
    base = _max_error(F.BREAKPOINTS)
    h = 1 / 64
    moves = [{k: d} for k in range(5) for d in (-h, h)] + [{i: -d, j: d} for i, j in ((1, 3), (0, 4)) for d in (-h, h)]
    for move in moves:
        b = list(F.BREAKPOINTS)
        for k, d in move.items():
            b[k] += d
        assert _max_error(b) >= base, move


def test_breakpoints_are_exact_in_fixed_point_and_the_pieces_mirror():
    """GeLU(x) = x/2 + h(x) with h even and the breakpoints symmetric: the least-squares fit of a mirrored piece
    is the mirrored fit, so a0 and a2 repeat in mirror order and the a1 of mirrored pieces sum to 1 (x/2 + x/2),
    exactly after rounding to the grid."""
    pw = F.fit()
    assert pw.breakpoints.tolist() == list(F.BREAKPOINTS)
    assert all((b * 64) == round(b * 64) for b in F.BREAKPOINTS)
    c = pw.coeffs
    assert torch.equal(c[:, 0], c.flip(0)[:, 0]) and torch.equal(c[:, 2], c.flip(0)[:, 2])
    assert torch.equal(c[:, 1] + c.flip(0)[:, 1], torch.ones(4, dtype=torch.float64))
    assert len(pw.rows) == 6 and pw.rows[0].tolist() == [0, 0, 0] and pw.rows[-1].tolist() == [0, 1, 0]


def test_outer_segments_and_segment_edges():
    """x < P0 -> 0 and x >= P4 -> x exactly; each breakpoint opens its own segment ([P_i, P_{i+1})), one ULP
    below it is the previous one."""
    x = torch.tensor([-64.0, -10.0, 3.578125, 10.0, 64.0], dtype=torch.float64)
    assert F.gelu(x).tolist() == [0.0, 0.0, 3.578125, 10.0, 64.0]
    pw = F.fit()
    at = torch.tensor(F.BREAKPOINTS, dtype=torch.float64)
    assert F.segment(at, pw).tolist() == [1, 2, 3, 4, 5]
    assert F.segment(at - ULP, pw).tolist() == [0, 1, 2, 3, 4]


# -- the protocol on the segment edges ------------------------------------------------------------------------

def _party(party, payload):
    fn, n, x = payload
    xs = share_input(x if party.rank == 0 else None, 0, (n,))
    return held(getattr(P, fn)(xs)) if fn != "segments_binary" else P.segments_binary(xs)


def _run(fn: str, x: torch.Tensor, seed: int = 3):
    n = x.shape[0]
    return run_two_party(_party, ((fn, n, x), (fn, n, None)), seed=seed)


def test_protocol_segments_are_the_spec_segments_on_every_edge():
    x = torch.tensor(EDGES, dtype=torch.float64)
    want = torch.nn.functional.one_hot(F.segment(x, F.fit()), 6)
    arithmetic = reconstruct(*_run("segments", x).outputs)
    res = _run("segments_binary", x)
    binary = res.outputs[0] ^ res.outputs[1]
    assert torch.equal(arithmetic, want) and torch.equal(binary, want)


def test_protocol_on_every_edge_is_within_the_per_element_bound():
    e = registry.get("secmoe.gelu")
    x = torch.tensor(EDGES, dtype=torch.float64)
    p = e.resolve({"n": len(EDGES)})
    r = harness.run_example(e, p, {"x": x}, seed=5)
    assert r.equivalence == [] and r.cost == []
    assert float((r.real.outputs - r.ideal).abs().max()) <= bound(p)


# -- (b) communication: measured Meter bytes against the 12-piece protocols -----------------------------------

def _measured(name: str, n: int, **params) -> dict:
    e = registry.get(name)
    p = e.resolve({"n": n, **params})
    x = torch.linspace(-6, 6, n, dtype=torch.float64)
    run = harness.run_example(e, p, {"x": x}, seed=1)
    assert run.equivalence == [] and run.cost == []
    return harness.measured(run.real)


def test_measured_bytes_against_the_twelve_piece_protocols():
    """Per element, words each way (27 per comparison, 1 square, 2 + 2 for ONE product of 2n by 2n; the
    baseline's multiplexer opens (P + 2) bits and (P + 2) values): ours 27 * 5 + 5 = 140, secmoe.activation
    27 * 13 + 5 = 356, piecewise.activation 27 * 13 + 1 + 2 * 14 = 380. So ours is 140/380 = 36.8% of the
    all-pieces baseline (63.2% less) and 140/356 = 39.3% of the 12-piece select (60.7% less); the paper's
    81% is against BumbleBee's GeLU, not these (``gelu_claims_table``)."""
    n = 8
    ours = _measured("secmoe.gelu", n)
    base = _measured("piecewise.activation", n, function="gelu")
    sel12 = _measured("secmoe.activation", n, function="gelu")
    assert ours["rounds"] == base["rounds"] == sel12["rounds"] == 10
    assert ours["bytes_client_to_server"] == ours["bytes_server_to_client"] == W * n * 140
    assert base["bytes_client_to_server"] == W * n * 380 and sel12["bytes_client_to_server"] == W * n * 356
    assert ours["offline_bytes"] == W * n * (14 * 5 + 1 + 2)
    ratio = (ours["bytes_client_to_server"] + ours["bytes_server_to_client"]) / (
        base["bytes_client_to_server"] + base["bytes_server_to_client"])
    assert ratio == pytest.approx(140 / 380)


def test_cost_model_closed_forms():
    n = 1000
    assert M.secmoe_gelu(crypten, n, 5).flat() == Cost.symmetric(10, W * n * (27 * 5 + 5), W * n * (14 * 5 + 3))
    assert [s for s, _ in M.secmoe_gelu(crypten, n, 5).steps] == ["compare", "square", "evaluate"]
    chee = M.secmoe_gelu(cheetah, n, 5)
    assert chee.flat() == (cheetah.less_than_zero(5 * n) + cheetah.square(n) + cheetah.mul(2 * n)).flat()
    assert chee.offline_bytes == 0


# -- (c) the paper-literal variant: binary segment bits, ONE masked product -----------------------------------

def test_binary_variant_is_correct_and_costs_what_its_derivation_says():
    """compare without B2A = less_than_zero minus its B2A (crypten.less_than_zero's derivation: 2 + 6 * 4 = 26
    words per comparison each way, 7 rounds, 1 + 6 * 2 = 13 offline); select = B2A of the 6 one-hot bits (open
    s XOR r: 1 round, 6 words each way, the dealer's r_A: 6 offline); square and evaluate as registered.
    Total 141 n words each way and 74 n offline, against the registered protocol's 140 n and 73 n."""
    x = torch.tensor(EDGES + [-2.5, -0.5, 0.25, 2.0], dtype=torch.float64)
    n = x.shape[0]
    res = _run("gelu_binary", x)
    p = {"n": n}
    assert errors.check(F.gelu(x, n), reconstruct(*res.outputs), p, {"x": x}) == []
    want = {"compare": Cost.symmetric(7, W * 26 * 5 * n, W * 13 * 5 * n),
            "select": Cost.symmetric(1, W * 6 * n, W * 6 * n),
            "square": crypten.square(n), "evaluate": crypten.mul(2 * n, 2 * n, 2 * n)}
    for step, cost in want.items():
        got = harness.measured(res.meter, step)
        assert (got["rounds"], got["bytes_client_to_server"], got["bytes_server_to_client"], got["offline_bytes"]) == (
            cost.rounds, cost.bytes_client_to_server, cost.bytes_server_to_client, cost.offline_bytes), step
    total = harness.measured(res.meter)
    registered = M.secmoe_gelu(crypten, n, 5)
    assert total["rounds"] == registered.rounds == 10
    assert total["bytes_client_to_server"] - registered.bytes_client_to_server == W * n
    assert total["offline_bytes"] - registered.offline_bytes == W * n


# -- the claims table ------------------------------------------------------------------------------------------

def test_claims_table_numbers_come_from_the_fit_and_the_models():
    t = gelu_claims_table(1024)
    assert set(t.columns) >= {"quantity", "backend", "ours", "against", "against_value", "reduction_pct",
                              "published", "cause"}
    assert t.cause.str.len().min() > 20                                   # a sentence on every row
    acc = fit_accuracy()
    assert t.ours[0] == acc["max"] and t.published[0] == F.PUBLISHED_MAX_ERROR
    assert acc["mean_pieces"] == t.ours[1] and t.published[1] == F.PUBLISHED_MEAN_ERROR
    by = t[t.quantity == "online bytes"].set_index(["backend", "against"])
    cr = by.xs("crypten")
    assert (cr.ours == M.secmoe_gelu(crypten, 1024, 5).bytes).all()
    base = cr.loc[cr.index.str.startswith("piecewise.activation"), "reduction_pct"].item()
    assert base == pytest.approx(100 * (1 - 140 / 380))
    bb = by.xs("cheetah").loc["SPU's GeLU (cheetah.gelu; for BumbleBee's)"]
    assert bb.against_value == cheetah.gelu(1024).bytes
    ours_cheetah = M.secmoe_gelu(cheetah, 1024, 5).bytes
    assert bb.reduction_pct == pytest.approx(100 * (1 - ours_cheetah / cheetah.gelu(1024).bytes))
    assert bb.published == 100 * PUBLISHED_REDUCTION_VS_BUMBLEBEE
    # the deviation the cause explains: fewer bytes than SPU's GeLU, but not the published 81% less
    assert 0 < bb.reduction_pct < bb.published


def test_twelve_piece_fit_is_finer_than_ours():
    """The claims table says the 12-piece select is about twice as accurate: its stated max against ours."""
    assert A.STATED_MAX_ERROR["gelu"] < F.STATED_MAX_ERROR / 1.5
