"""Security as a tested property: every secure protocol passes every security check, every negative
control is caught -- by the check and with the class of leak it was written to show -- the checks catch
the leaks written to beat them (synthetic views), the statistical tests keep their stated false-alarm rate
(measured, analysis/data/security_fwer.csv), and `privmoe verify` exits 1 on a leaky ordinary entry."""
import json
import subprocess
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from analysis import harness, registry
from analysis.cli import main
from analysis.security import Pair, Runs, ledger_problems, security_check
from analysis.strategies import draw_example_inputs, draw_example_params
from protocols.mpc.leaks import LIE
from protocols.runtime.dealer import derive_seed
from protocols.runtime.ledger import Protection
from protocols.runtime.meter import ViewItem
from simulators.ledger import claim_problems, mask_problems, redraw_problems
from simulators.security import ALPHA, View, distribution_problems, family_pvalue

SECURE = [e for e in registry.all_entries() if not e.negative_control]
CONTROLS = [e for e in registry.all_entries() if e.negative_control]
ROOT = Path(__file__).resolve().parents[1]

#: control -> (the check that must catch it, the class of leak its message names); the ledger's
#: classes are simulators/ledger.py's LEAK_CLASSES
EXPECTED = {
    "insecure.moe": ("ledger", "unprotected"),
    "leaky.dispatch": ("ledger", "unprotected"),
    "unmasked.matmul": ("ledger", "unprotected"),
    "leaky_dealer.equal": ("ledger", "mask reuse"),
    "reuse.dispatch": ("ledger", "mask reuse"),
    "share_sent.gate": ("ledger", "receiver holds the mask"),
    "gathered.gate": ("ledger", "receiver holds the mask"),
    "occasional.gate": ("ledger", "unprotected"),
    "weak_mask.dispatch": ("ledger", "weak mask"),
    "one_token.gate": ("ledger", "unprotected"),
    "key_leak.matmul": ("ledger", "unprotected"),
    "unmasked_secmoe.moe": ("ledger", "unprotected"),
    "round_channel.gate": ("shape", "the transcript changes with the other party's secret"),
    "unflooded.matmul": ("ledger", "unprotected"),
}
#: the controls a single ledger pass (one run and its redraws) catches; the others need several runs
ONE_PASS = [n for n, (check, _) in EXPECTED.items() if check == "ledger" and n != "occasional.gate"]


def _drawn(entry, seed=0):
    params = draw_example_params(entry, seed)
    return params, draw_example_inputs(entry, params, seed)


def test_every_control_has_an_expectation():
    assert {e.name for e in CONTROLS} == set(EXPECTED)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("entry", SECURE, ids=[e.name for e in SECURE])
def test_secure_protocols_pass_every_security_check(entry):
    results = harness.security_results(entry, runs=4, seed=0)
    assert all(r.passed for r in results), [(r.check, r.failures) for r in results]


@pytest.mark.parametrize("name", ONE_PASS)
def test_controls_are_caught_by_the_ledger_in_one_pass(name):
    """What security_check runs first, on the same params and inputs: one run and its redraws."""
    entry = registry.get(name)
    params, inputs = _drawn(entry)
    found = ledger_problems(entry, params, inputs, seed=0)
    leak = EXPECTED[name][1]
    assert any(p.startswith(leak + ":") for p in found), found
    # the message names the party that learns, the step and the message
    first = next(p for p in found if p.startswith(leak + ":"))
    assert " learns at step '" in first and "message #" in first and ("client" in first or "server" in first)


def test_the_round_channel_is_caught_by_the_transcript_signature_without_a_cost_model():
    entry = registry.get("round_channel.gate")
    assert entry.costs == {}
    params, inputs = _drawn(entry)
    found = security_check(entry, params, inputs, runs=2, seed=0)
    assert not found["ledger"], found["ledger"]          # its values are clean: only rounds carry the bit
    assert any("the transcript changes with the other party's secret" in p for p in found["shape"]), found


def test_the_unflooded_answers_are_caught_by_the_noise_the_client_sees():
    """The answers' decryption noise (``noise`` view items) at the secure protocol's own parameters
    (N = 8192), where the control's values, masks and transcript are clean: it does not move when the
    server's randomness is redrawn (the ledger), and it is not the flooding's distribution (the tests)."""
    entry = registry.get("unflooded.matmul")
    params, inputs = _drawn(entry)
    found = security_check(entry, params, inputs, runs=2, seed=0)
    assert not found["shape"], found
    assert found["ledger"] and all(p.startswith("unprotected:") and "noise value" in p for p in found["ledger"])
    assert any("real vs simulated: noise value at step 'matmul'" in p for p in found["distribution"]), found


def test_the_noise_the_client_sees_shows_the_weights_without_flooding():
    """At N = 4096 (no prime to drop; the control does not flood, so it may run there) the unflooded noise
    also differs between the server's all-zero and uniform weights: the contrast pair catches it, not only
    the comparison with the simulator."""
    entry = registry.get("unflooded.matmul")
    params, a, b = entry.contrast()
    params = {**params, "poly_degree": 4096}
    found = security_check(entry, params, a, runs=3, seed=0, pairs=[Pair("zero vs random weights", params, a, b)])
    assert any("zero vs random weights, client, secret A vs B: noise value" in p for p in found["distribution"]), found
    flooded = registry.get("cryptomoe.matmul")
    params = {**params, "poly_degree": 8192}
    found = security_check(flooded, params, a, runs=3, seed=0, pairs=[Pair("zero vs random weights", params, a, b)])
    assert not any(found.values()), found


def test_the_occasional_leak_is_caught_in_every_run_where_it_fires():
    entry = registry.get("occasional.gate")
    params, inputs = _drawn(entry)
    fired = [s for s in range(200) if derive_seed(s, "occasional leak") % 8 == 0][:2]
    quiet = [s for s in range(200) if derive_seed(s, "occasional leak") % 8 != 0][:2]
    for seed in fired + quiet:
        runs = Runs(entry)
        runs(params, inputs, seed)
        assert bool(runs.claims) == (seed in fired), (seed, runs.claims)


def test_the_occasional_leak_is_caught_at_the_default_settings_of_verify():
    """The one control whose catch depends on the number of runs, at verify's defaults (6 runs). (The
    ledger pass and the transcript signature above do not depend on it: security_check runs them as the
    tests above do.)"""
    results = {r.check: r for r in harness.security_results(registry.get("occasional.gate"), runs=6, seed=0)}
    assert any(p.startswith("unprotected:") for p in results["security_ledger"].failures), results


def test_a_leaky_entry_registered_as_ordinary_makes_verify_exit_1(capsys):
    entry = replace(registry.get("weak_mask.dispatch"), name="ordinary.dispatch", negative_control=False)
    registry.register(entry)
    try:
        code = main(["verify", "ordinary.dispatch", "--examples", "1", "--security-runs", "2", "--json"])
    finally:
        del registry._REGISTRY["ordinary.dispatch"]
    obj = json.loads(capsys.readouterr().out)
    assert code == 1
    failures = [f for c in obj["protocols"][0]["checks"] for f in c["failures"]]
    assert any(f.startswith("weak mask: server learns at step 'mux', message #") for f in failures), failures


def test_verify_json_reports_controls_as_caught(capsys):
    code = main(["verify", "leaky_dealer.equal", "equal", "--examples", "1", "--security-runs", "4", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0
    by = {p["protocol"]: p for p in obj["protocols"]}
    assert by["leaky_dealer.equal"]["caught"] is True and by["equal"]["passed"] is True
    assert any(c["check"].startswith("security") for c in by["equal"]["checks"])


def test_registry_loading_does_not_depend_on_file_names():
    """Load the entry modules in REVERSE order: the controls (which build on other entries) come first."""
    code = ("import analysis.registry as r\n"
            "names = r._module_names\n"
            "r._module_names = lambda: list(reversed(names()))\n"
            "print(len(r.all_entries()), r.get('share_sent.gate').negative_control)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == [str(len(registry.all_entries())), "True"]


# -- the checks themselves, on views written to beat them ------------------------------------------------
RNG = [np.random.default_rng(7)]


@pytest.fixture(autouse=True)
def _fresh_rng(request):
    """Each test draws from its own seeded generator, whatever ran before it."""
    RNG[0] = np.random.default_rng(zlib.crc32(request.node.name.encode()))


def _u(n):
    return RNG[0].integers(0, 2**64, n, dtype=np.uint64).view(np.int64)


def _item(values, protect=LIE, kind="opened", mask_index=-1):
    return ViewItem(kind, "s", "server", torch.from_numpy(np.asarray(values, dtype=np.int64)), protect, 1, mask_index)


def _redraw_case(secret, masks_base, masks_redrawn, build):
    """A base view and one redrawn view from ``build(secret, masks)``."""
    return build(secret, masks_base), [build(secret, m) for m in masks_redrawn]


def test_ledger_passes_fresh_masks_and_catches_each_class():
    x, y = _u(8), _u(8)
    r0, r1 = [_u(8), _u(8)], [_u(8), _u(8)]
    good = lambda r: [_item(x - r[0]), _item(y - r[1])]                      # noqa: E731
    assert redraw_problems("client", good(r0), [good(r1)]) == []
    # unprotected: the value does not move
    still = lambda r: [_item(x)]                                            # noqa: E731
    assert redraw_problems("client", still(r0), [still(r1)])[0].leak == "unprotected"
    # weak: only the low 20 bits move
    weak = lambda r: [_item(x + (r[0].view(np.uint64) >> np.uint64(44)).view(np.int64))]  # noqa: E731
    assert redraw_problems("client", weak(r0), [weak(r1)])[0].leak == "weak mask"
    # reuse: one mask row for two values (their difference x - y is unmasked), and it changes with the secret
    reuse = lambda s, r: [_item(s[0] - r[0]), _item(s[1] - r[0])]           # noqa: E731
    z = _u(8)
    found = redraw_problems("client", reuse((x, y), r0), [reuse((x, y), r1)],
                            changed_view=reuse((x, z), r0))
    assert [p.leak for p in found] == ["mask reuse"]
    # ... but not when the combination does not change with the other party's secret
    assert redraw_problems("client", reuse((x, y), r0), [reuse((x, y), r1)], changed_view=reuse((x, y), r0)) == []
    # xor reuse under an additive claim: still found
    xr = lambda s, r: [_item(s[0] ^ r[0]), _item(s[1] ^ r[0])]               # noqa: E731
    assert [p.leak for p in redraw_problems("client", xr((x, y), r0), [xr((x, y), r1)])] == ["mask reuse"]
    # the receiver holds the mask: a one-way payload = the other's share of a secret whose rest it holds
    own = lambda r: [torch.from_numpy(x - r[0])]                             # noqa: E731  its own share
    sent = lambda r: [_item(r[0], kind="received")]                          # noqa: E731  x = own + sent
    found = redraw_problems("client", sent(r0), [sent(r1)], own(r0), [own(r1)])
    assert [p.leak for p in found] == ["receiver holds the mask"]


def test_claims_are_checked():
    assert claim_problems([_item(_u(4), None)], "client")[0].leak == "unprotected"
    assert claim_problems([_item(_u(4), Protection("mask", "other", owner="client"))],
                          "client")[0].leak == "receiver holds the mask"
    # a dealer's source claimed by a value no dealer mask protects
    assert claim_problems([_item(_u(1) & 1, Protection("mask", "B2A bit", bits=1))], "client")[0].leak == "false claim"
    assert claim_problems([_item(_u(4), Protection("ciphertext", "client key", 0, "client"), kind="ciphertext")],
                          "client")[0].leak == "key owner"
    assert claim_problems([_item(_u(4))], "client") == []


def test_false_claim_is_found_when_the_logged_masks_do_not_hide_the_value():
    x = _u(6)
    a0, a1, b1 = _u(6), _u(6), _u(6)
    triple = Protection("mask", "beaver triple")
    honest = [_item(x - a0 - a1, triple, mask_index=0)]
    redrawn = [_item(x - a0 - b1, triple, mask_index=0)]
    logged = {"client": [torch.from_numpy(a0)], "server": [torch.from_numpy(a1)]}
    relogged = [{"client": [torch.from_numpy(a0)], "server": [torch.from_numpy(b1)]}]
    assert mask_problems("client", honest, [redrawn], logged, relogged) == []
    lying = [_item(x - a0, triple, mask_index=0)]                           # the server's part never applied
    assert mask_problems("client", lying, [lying], logged, relogged)[0].leak == "false claim"


def _views(n, runs, leak_bit=None, carriers=0):
    out = []
    for _ in range(runs):
        v = _u(n).view(np.uint64)
        if leak_bit is not None:
            top = np.uint64(1) << np.uint64(63)
            v[:carriers] = (v[:carriers] & ~top) | (top if leak_bit else np.uint64(0))
        out.append(View("client", [_item(v.view(np.int64))]))
    return out


def test_statistical_tests_keep_their_false_alarm_rate_on_uniform_views():
    """200 families of 4000 uniform elements per position and 6 runs: at 0.05, alarms ~ Binomial(200, <= 0.05)."""
    p = [family_pvalue(_views(4000, 6), _views(4000, 6)) for _ in range(200)]
    assert sum(x < ALPHA for x in p) <= _binomial_quantile(200, ALPHA, 0.999)
    assert sum(x < 0.05 for x in p) <= _binomial_quantile(200, 0.05, 0.999)


def test_statistical_tests_find_a_bit_carried_by_enough_elements():
    assert distribution_problems(_views(4000, 6, 0, 256), _views(4000, 6, 1, 256), "x")
    assert not distribution_problems(_views(4000, 6, 0, 1), _views(4000, 6, 1, 1), "x")   # the ledger's job


def test_the_measured_false_alarm_rate_covers_every_secure_entry_and_holds():
    """analysis/data/security_fwer.csv (python -m analysis.bench_security fwer): every secure entry measured
    at >= 4000 elements per position; false alarms of whole checks no more than chance allows at ALPHA
    and at 0.05 (the 99.9 % quantile of Binomial(checks, level))."""
    from analysis.bench_security import check_pvalues

    df = pd.read_csv(ROOT / "analysis" / "data" / "security_fwer.csv")
    assert set(df.protocol) == {e.name for e in SECURE}
    assert (df.groupby("protocol").elements.max() >= 4000).all()
    p = check_pvalues()
    for level in (ALPHA, 0.05):
        assert int((p < level).sum()) <= _binomial_quantile(len(p), level, 0.999), (level, p[p < level])


def _binomial_quantile(n: int, p: float, q: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= q."""
    from math import comb

    total = 0.0
    for k in range(n + 1):
        total += comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= q:
            return k
    return n


def test_a_misspelt_fault_is_refused_not_silently_unplanted():
    """A control whose tap or generator label the protocol never reaches plants nothing: that is an error,
    not a control that silently passes; the correctly spelt one runs."""
    from protocols.he.leaks import ZeroGenerator
    from protocols.mpc import leaks
    from protocols.runtime.faults import planted

    entry = registry.get("unmasked_secmoe.moe")
    params = entry.resolve({})
    inputs = draw_example_inputs(entry, params, 0)
    base = registry.get("secmoe.moe").real
    for spelling in ({"generators": {("secmoe", "answer mask"): ZeroGenerator}, "parties": ("server",)},
                     {"generators": {("secmoe", "answer masks"): ZeroGenerator}},      # the client draws none
                     {"taps": {"k": leaks.sometimes_open}}):
        def real(p, s, own, spelling=spelling):
            with planted(**spelling):
                return base(p, s, own)
        broken = registry.register(replace(entry, name="misspelt.moe", real=real))     # parties look it up
        try:
            with pytest.raises(Exception, match="never reached by the protocol"):
                harness.run_real(broken, params, inputs, timeout=60)
        finally:
            del registry._REGISTRY["misspelt.moe"]
    run = harness.run_real(entry, params, inputs, timeout=60)       # the real control's label is reached
    assert run.outputs is not None