"""The ``cheetah`` projection backend against the SPU calibration tables it is fitted from.

Expected values are recomputed here from the CSVs (csv module), never copied from the model."""
import csv
import math
import time
from collections import defaultdict

import pytest

from analysis.cost_models import cheetah, crypten, spu_logs
from analysis.cost_models import cheetah_calibration as CC
from analysis.cost_models import cheetah_matmul as CM
from analysis.cost_models.cost import Cost

PAPER = dict(tokens=128, hidden=2048, experts=64, top_k=6)


def _main_rows():
    with (CC.calibration_dir() / CC.MAIN_CSV).open(newline="") as f:
        return list(csv.DictReader(f))


def _rows_rows():
    with (CC.calibration_dir() / CC.ROWS_CSV).open(newline="") as f:
        return list(csv.DictReader(f))


def _rows_pair(op, e):
    """The (smaller, larger) rows-table measurements of op over E columns with the largest sizes."""
    rs = sorted((r for r in _rows_rows() if r["op"] == op and int(r["E"]) == e),
                key=lambda r: int(r["elements"]))
    return rs[-2], rs[-1]


def _total(r):
    return int(r["p0_send_bytes"]) + int(r["p1_send_bytes"])


def _slope(op, e):
    a, b = _rows_pair(op, e)
    return (_total(b) - _total(a)) / (int(b["elements"]) - int(a["elements"]))


# ---- the fits reproduce their own measurements --------------------------------------------------
def test_main_table_fits_reproduce_each_row():
    groups = defaultdict(list)
    for r in _main_rows():
        groups[r["op"]].append(r)
    two_size = {op: rs for op, rs in groups.items() if len(rs) == 2}
    fits = CC.small_size_fits()
    assert set(fits) == set(two_size)
    assert {"less", "equal_int", "mul_fxp", "mul_int", "select", "onehot_int"} <= set(fits)
    for op, rs in two_size.items():
        f = fits[op]
        assert not f.clamped
        for r in rs:
            measured = int(r["send_bytes_total"])
            assert f.fixed + f.per_element * int(r["numel"]) == pytest.approx(measured, rel=1e-12, abs=1e-6)


def test_rows_table_fits_reproduce_each_row_and_split():
    fits = CC.rows_table_fits()
    groups = defaultdict(list)
    for r in _rows_rows():
        groups[(r["op"], int(r["E"]))].append(r)
    n_pairs = 0
    for (op, e), rs in groups.items():
        for a, b in zip(rs[0::2], rs[1::2]):
            f = fits[(op, e, min(int(a["elements"]), int(b["elements"])))]
            for r in (a, b):
                assert f.fixed + f.per_element * int(r["elements"]) == pytest.approx(_total(r), rel=1e-12)
            d_p0 = int(b["p0_send_bytes"]) - int(a["p0_send_bytes"])
            assert f.p0_share == pytest.approx(d_p0 / (_total(b) - _total(a)), rel=1e-12)
            n_pairs += 1
    assert len(fits) == n_pairs


def test_fit_line_clamps_negative_slope_and_intercept():
    f = CC.fit_line("x", "synthetic", 10, 1000, 20, 500)  # shrinking cost
    assert f.per_element == 0 and f.clamped
    g = CC.fit_line("y", "synthetic", 10, 100, 20, 1100)  # intercept 100 - 1000 < 0
    assert g.fixed == 0 and g.per_element == 100 and g.clamped
    h = CC.fit_line("z", "synthetic", 10, 1100, 20, 2100)
    assert (h.fixed, h.per_element, h.clamped) == (100, 100, False)


# ---- projections use the large-size slope, never the fixed part ---------------------------------
@pytest.mark.parametrize("fn, op, e", [(cheetah.less_than_zero, "cmp0", 8), (cheetah.equal_zero, "eq", 8),
                                       (cheetah.mul, "mul", 8), (cheetah.square, "square", 8),
                                       (cheetah.select, "where", 8), (cheetah.exp, "exp", 8),
                                       (cheetah.reciprocal, "recip", 8), (cheetah.silu, "silu", 8),
                                       (cheetah.gelu, "gelu", 8)])
def test_elementwise_ops_cost_the_large_size_slope(fn, op, e):
    n = 49152
    c = fn(n)
    assert c.bytes == round(_slope(op, e) * n)
    assert c.offline_bytes == 0 and c.rounds > 0


def test_mul_int_uses_main_table_and_splits_evenly():
    rs = sorted((r for r in _main_rows() if r["op"] == "mul_int"), key=lambda r: int(r["numel"]))
    slope = (int(rs[1]["send_bytes_total"]) - int(rs[0]["send_bytes_total"])) / (
        int(rs[1]["numel"]) - int(rs[0]["numel"]))
    c = cheetah.mul_int(7168)
    assert c.bytes == round(slope * 7168)
    assert abs(c.bytes_client_to_server - c.bytes_server_to_client) <= 1


def test_mux_is_select_minus_less_and_b2a_half_of_it():
    per = _slope("where", 8) - _slope("cmp0", 8)
    main = {(r["op"], int(r["numel"])): int(r["send_bytes_total"]) for r in _main_rows()}
    per_small = ((main[("select", 8192)] - main[("select", 1024)])
                 - (main[("less", 8192)] - main[("less", 1024)])) / 7168
    assert per == pytest.approx(per_small)  # the mux costs the same in both regimes
    assert cheetah.mux(4096).bytes == round(per * 4096)
    assert cheetah.b2a(4096).bytes == round(per * 4096 / 2)


def test_onehot_op_is_one_equality_per_output_element():
    rs = sorted((r for r in _main_rows() if r["op"] == "onehot_int"), key=lambda r: int(r["numel"]))
    slope = (int(rs[1]["send_bytes_total"]) - int(rs[0]["send_bytes_total"])) / (
        int(rs[1]["numel"]) - int(rs[0]["numel"]))
    assert cheetah.onehot_op(768, 128).bytes == round(slope * 768 * 128)
    assert cheetah.onehot(64, 12, 128).bytes == cheetah.onehot_op(768, 128).bytes


def test_softmax_is_per_element_of_the_measured_softmax():
    assert cheetah.softmax(128, 64).bytes == round(_slope("softmax", 64) * 128 * 64)
    assert _slope("softmax", 8) == pytest.approx(_slope("softmax", 64), rel=1e-3)


# ---- linearity and scaling ------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [cheetah.less_than_zero, cheetah.equal_zero, cheetah.mul, cheetah.mul_int,
                                cheetah.exp, cheetah.silu, cheetah.mux, cheetah.b2a])
def test_linear_in_n(fn):
    for n in (1, 1001, 1024, 8192, 49152, 10**7):
        assert abs(fn(2 * n).bytes - 2 * fn(n).bytes) <= 1  # each Cost rounds to whole bytes once
    assert fn(3 * 7168 * 49152).bytes == 3 * fn(7168 * 49152).bytes  # exact where no rounding occurs
    assert fn(2 * 1024).rounds == fn(1024).rounds
    assert fn(0) == Cost()


def test_matmul_is_he_calls_and_the_calibration_row_adds_only_setup():
    """The calibration's one matmul_ss run (128 x 2048 x 64, alone in its session) = the two structural
    HE calls + the HE key exchange + at most the OT set-up of the product's truncation (the mul
    intercept): the structure leaves nothing unexplained that set-up cannot hold."""
    row = next(r for r in _main_rows() if r["op"] == "matmul_ss")
    m, k, n = (int(v) for v in row["shape"].split("x"))
    a, b = _rows_pair("mul", 8)
    mul_fixed = _total(a) - _slope("mul", 8) * int(a["elements"])
    unexplained = int(row["send_bytes_total"]) - cheetah.matmul(m, k, n).bytes - CM.setup_bytes().bytes
    assert 0 <= unexplained <= mul_fixed
    assert cheetah.matmul(m, k, n).rounds == CC.MATMUL_ROUNDS
    # two calls: one each way, so the shared product is symmetric; a plaintext-weights product is one call
    s = cheetah.matmul(m, k, n)
    assert s.bytes_client_to_server == s.bytes_server_to_client
    assert cheetah.weights_matmul(m, k, n).bytes * 2 == s.bytes


def test_batched_products_follow_spu():
    """A broadcast right operand reshapes into rows; per-batch weights are one call pair per batch element
    (the authors' logs print one call per expert); rounds do not add up across the batch."""
    assert cheetah.bmm(8, 16, 64, 32, True, False) == cheetah.matmul(8 * 16, 64, 32)
    one = cheetah.matmul(16, 64, 32)
    assert cheetah.bmm(8, 16, 64, 32).bytes == 8 * one.bytes
    assert cheetah.bmm(8, 16, 64, 32).rounds == one.rounds
    assert cheetah.wmm(8, 16, 64, 32).bytes == 8 * cheetah.weights_matmul(16, 64, 32).bytes


# ---- top-k ---------------------------------------------------------------------------------------
def test_calibration_topk_fit_within_stated_residual_of_the_three_rows():
    rows = [r for r in _main_rows() if r["op"].startswith("topk_k")]
    assert len(rows) == 3
    f = CC.calibration_topk_fit()
    assert 0 < f.fixed < CC.setup_bytes()
    for r in rows:
        rr, cc = (int(v) for v in r["shape"].split("x"))
        model = f.fixed + f.per_unit * rr * cc * math.log2(cc)
        measured = int(r["send_bytes_total"])
        assert abs(model - measured) <= CC.TOPK_MAX_REL_RESIDUAL * measured + 1, r["op"]


def test_projected_topk_is_the_authors_logged_sort():
    """The projection's top-k is fitted to the authors' logs (their SPU shuffles and sorts), about twice
    the calibration's lax.top_k; every logged top-k line within 5% of the one slope."""
    f = CC.topk_fit()
    assert f.fixed == 0
    assert 1.7 < f.per_unit / CC.calibration_topk_fit().per_unit < 2.3
    for label, units, logged in spu_logs.topk_points():
        assert f.per_unit * units == pytest.approx(logged, rel=0.05), label
    assert CC.logs_topk_residual() < 0.05
    assert cheetah.topk_op(128, 64, 6).bytes == pytest.approx(f.per_unit * 128 * 64 * 6, abs=1)


def test_topk_depends_on_cols_not_k():
    assert cheetah.topk_op(64, 768, 12) == cheetah.topk_op(64, 768, 24)
    assert abs(cheetah.topk_op(128, 64, 6).bytes - 2 * cheetah.topk_op(64, 64, 6).bytes) <= 1
    assert cheetah.topk_op(64, 768, 12).rounds > cheetah.topk_op(64, 64, 6).rounds
    # Pi_topk on cheetah is privmoe's own method on SPU's units (the protocol accounting), not SPU's sort
    assert cheetah.topk(64, 768, 12).step("topk") == cheetah.topk_auto(64, 768, 12).flat()
    assert cheetah.topk(64, 768, 12, "bitonic").bytes < cheetah.topk_op(64, 768, 12).bytes
    with pytest.raises(ValueError):
        cheetah.topk_op(1, 4, 5)


# ---- direction split ------------------------------------------------------------------------------
def test_direction_split_sums_to_total_and_follows_party0_share():
    a, b = _rows_pair("cmp0", 8)
    share = (int(b["p0_send_bytes"]) - int(a["p0_send_bytes"])) / (_total(b) - _total(a))
    n = 65536
    c = cheetah.less_than_zero(n)
    assert c.bytes_client_to_server + c.bytes_server_to_client == round(_slope("cmp0", 8) * n)
    assert c.bytes_client_to_server == round(c.bytes * share)
    assert c.bytes_client_to_server > c.bytes_server_to_client  # the OT sender sends the tables
    m = cheetah.matmul(128, 2048, 64)  # two HE calls, one each way
    assert m.bytes_client_to_server == m.bytes_server_to_client
    w = cheetah.weights_matmul(128, 2048, 64)   # the server encrypts its 16 weight blocks, the client answers one
    assert w.bytes_server_to_client == 16 * CM.QUERY_BYTES and w.bytes_client_to_server == CM.ANSWER_BYTES


# ---- protocols -----------------------------------------------------------------------------------
def test_gate_at_paper_scale():
    g = cheetah.gate(**PAPER)
    top = [(name, c) for name, c in g.steps if "/" not in name]
    assert [name for name, _ in top] == ["logits", "topk", "softmax", "select"]
    assert g.bytes > 0 and g.rounds > 0 and g.offline_bytes == 0
    assert sum(c.bytes for _, c in top) == g.bytes
    assert sum(c.rounds for _, c in top) == g.rounds
    m, d, e, k = PAPER.values()
    assert g.step("logits") == cheetah.weights_matmul(m, d, e)   # the server's plaintext W_g
    assert g.step("topk") == cheetah.topk_core(m, e, k).flat()          # k tournaments, as the protocol runs
    assert g.step("softmax") == cheetah.softmax(m, e)
    assert g.step("select") == cheetah.mux(m * k * e)        # one-hot bits x scores: a select, not a product
    # SPU's own sort at the gate's size is the authors' logged gate top-k (dense run, 128 x 64) within 5%
    logged = next(r for r in spu_logs.runs("DeepSeekMoE-16B", "dense"))["hlo"][spu_logs.TOPK_OP]
    assert cheetah.topk_op(m, e, k).bytes == pytest.approx(logged, rel=0.05)


def test_protocol_labels_match_crypten():
    assert [n for n, _ in cheetah.equal(10).steps] == ["equal"]
    assert [n for n, _ in cheetah.onehot(2, 3, 4).steps] == ["onehot"]
    assert [n for n, _ in cheetah.topk(2, 8, 2).steps if "/" not in n] == ["topk"]
    assert [n for n, _ in cheetah.topk(2, 8, 2).steps] == [n for n, _ in crypten.topk(2, 8, 2).steps]
    assert cheetah.equal(10).flat() == cheetah.equal_zero(10)


def test_closed_form_is_instant_at_any_scale():
    t0 = time.perf_counter()
    for _ in range(100):
        g = cheetah.gate(tokens=10**9, hidden=2048, experts=64, top_k=6)
    assert time.perf_counter() - t0 < 2.0
    assert g.bytes > cheetah.gate(**PAPER).bytes


# ---- set-up and the table -------------------------------------------------------------------------
def test_setup_is_the_largest_projection_intercept_and_not_charged():
    s = CC.setup_bytes()
    intercepts = []
    for op, e in [("cmp0", 8), ("eq", 8), ("mul", 8), ("where", 8), ("gelu", 8), ("softmax", 64)]:
        a, b = _rows_pair(op, e)
        sl = (_total(b) - _total(a)) / (int(b["elements"]) - int(a["elements"]))
        intercepts.append(_total(a) - sl * int(a["elements"]))
    assert s >= round(max(intercepts))
    assert cheetah.less_than_zero(1).bytes < 1000  # one comparison, no set-up


def test_unit_costs_table():
    df = CC.unit_costs()
    for col in ("op", "fixed_bytes", "per_element_bytes", "p0_share", "rounds_estimate", "source"):
        assert col in df.columns
    assert df["op"].is_unique
    assert {"less", "equal", "mul", "mul_int", "matmul_query", "matmul_answer", "topk", "onehot", "softmax",
            "mux"} <= set(df["op"])
    less = df.set_index("op").loc["less"]
    assert less["per_element_bytes"] == pytest.approx(_slope("cmp0", 8))
    assert less["rounds_estimate"] == CC.CMP_ROUNDS
    assert (df["p0_share"].between(0, 1)).all() and (df["per_element_bytes"] > 0).all()


def test_missing_calibration_dir_raises_naming_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(CC.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=CC.MAIN_CSV) as e:
        cheetah.less_than_zero(8)
    assert str(tmp_path) in str(e.value)
    monkeypatch.setenv(CC.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(CC.CalibrationError, match="nowhere"):
        cheetah.gate(**PAPER)


def test_env_var_overrides_the_calibration_dir(tmp_path, monkeypatch):
    for name in (CC.MAIN_CSV, CC.ROWS_CSV):
        (tmp_path / name).write_text((CC.calibration_dir() / name).read_text())
    base = cheetah.less_than_zero(1000).bytes
    monkeypatch.setenv(CC.ENV_VAR, str(tmp_path))
    assert CC.calibration_dir() == tmp_path.resolve()
    assert cheetah.less_than_zero(1000).bytes == base
    # the same tables with the cmp0 rows' bytes doubled double the projected comparison
    text = (tmp_path / CC.ROWS_CSV).read_text().splitlines()
    out = [text[0]]
    for line in text[1:]:
        f = line.split(",")
        if f[0] == "cmp0":
            f[4], f[5] = str(2 * int(f[4])), str(2 * int(f[5]))
        out.append(",".join(f))
    (tmp_path / CC.ROWS_CSV).write_text("\n".join(out) + "\n")  # edited in place: reloaded
    assert cheetah.less_than_zero(1000).bytes == 2 * base
    assert math.isclose(CC.rows_table_fits()[("cmp0", 8, 16384)].per_element, 2 * 82.25)
