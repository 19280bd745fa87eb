"""The ``cheetah`` backend's unit costs: the calibration tables, their fits and the round estimates.

This module holds the DATA side of ``cheetah.py`` and changes when the data or the way it is fitted
changes: reading the two SPU calibration tables (``$PRIVMOE_CALIBRATION`` or ``shared/calibration``
beside the repository, ``calibration_dir``), the line fits (``LinearFit``, ``fit_line``,
``small_size_fits``, ``rows_table_fits``), the unit cost of each op (``_unit``: which fit, which slope,
which direction split, the derived ``mux`` and ``b2a``), the top-k fits (``TopkFit``, ``topk_fit`` from
the authors' SPU logs, ``calibration_topk_fit``), the one-off set-up (``setup_bytes``), the round
constants (``CMP_ROUNDS``, ``EQ_ROUNDS``, ...: estimates from the protocol structure) and the table of it
all (``unit_costs``). ``cheetah.py`` turns these units into op projections and protocol costs.

What is measured
----------------
CryptoMoE and SecMoE ran on SPU with the Cheetah two-party protocol (silent-OT comparisons, HE-based
multiplications). ``shared/calibration`` holds two tables of real SPU 0.9.5 runs (protocol CHEETAH, field
FM64, 18 fractional bits, in-memory link), each op at two sizes:

* ``spu_cheetah_fm64.csv`` ("main"): one JAX op per row, total bytes of both parties, sizes 1024/8192
  elements for the elementwise ops, plus three top-k shapes, a one-hot at two sizes and one secret x secret
  matmul (128 x 2048 x 64).
* ``spu_cheetah_fm64_rows.csv`` ("rows"): elementwise and row-wise ops at larger sizes (16384/65536
  elements), with the bytes of party 0 and party 1 separately.

How the fit works
-----------------
Every pair of measurements of one op is fitted by a line ``bytes(n) = fixed + per_element * n`` with
``per_element = delta bytes / delta n`` and ``fixed = bytes - per_element * n``; the line goes through
both points exactly. A negative slope or intercept (none occurs in the shipped data) is clamped to 0:
a cost cannot shrink with the input, and a negative set-up is meaningless; a clamped line no longer
reproduces its points and ``unit_costs`` says so in its ``note``.

The projected (marginal) cost of an op on n elements is ``per_element * n``. The intercept is the OT /
silent-OT (and HE key) set-up a real session pays once; it is never added per call. It is exposed on its
own as ``setup_bytes()``.

Which slope. SPU's cost is not one straight line: set-up work (the silent-OT expansion) is triggered
lazily, so it lands in the slope of the *small* sizes. The data shows it exactly: ``less`` at 8192
elements (3,619,480 B) lies on the large-size ``cmp0`` line (2,945,688 + 82.25 n), but the small-size
line through 1024 and 8192 has slope 287.7 B, 3.5x the large-size one; ``equal`` is 253 vs 47.5 B,
``exp`` 194 vs 1143 B (there, presumably, HE ciphertext packing distorts the small sizes the other
way).
So each op is projected with the slope measured at the **largest sizes available** (the rows table where
it has the op, the main table otherwise). Both slopes are listed by ``unit_costs()``; the protocol
sizes at paper scale (8192 to 98304 elements per op) sit in the large-size regime.

Derived and special ops
-----------------------
* ``mux`` (select with a secret bit) = ``select`` - ``less``: 16.25 B per element in *both* regimes
  (two correlated OTs of a 64-bit message each way plus the choice-bit corrections), split exactly
  50/50 in the rows table.
* ``b2a`` of a bit = one correlated OT = half a ``mux``. (An upper-bound alternative would be a
  ``mul_int``; the COT estimate follows the data.)
* ``mul`` is the fixed-point product (with truncation, rows ``mul``); ``mul_int`` has no truncation and
  is measured only in the main table (1024/8192).
* ``topk``: the authors' logs (``topk_fit``; ``cheetah.py``'s table says why); the calibration's three
  ``topk_k{t}`` rows are kept for comparison (``calibration_topk_fit``).
* ``softmax`` is the measured jax.nn.softmax over E = 64 columns (rows table); its slope over E = 8 is
  the same to 0.01%, so it is taken per element of rows x cols.
* ``onehot`` is the main table's ``onehot_int`` (768 x 128 and 1536 x 128 outputs, the largest sizes;
  its slope, 47.5 B per output element, equals the rows table's ``eq`` and ``onehot``).

Direction split
---------------
SPU's rank 0 is mapped to the client, as privmoe's runtime does (client = rank 0). Where the rows table
has the op, the client's share of the *marginal* bytes is delta p0 bytes / delta total bytes of that op
(cmp0 -> less, eq -> equal, mul, square, where -> select, exp, silu, gelu, recip -> reciprocal,
softmax, onehot, top2 -> topk). Ops measured only in the main table (``mul_int``) and the derived ``b2a``
are split 50/50; ``mux`` is 50/50 because the data says so. Matmuls are split by who sends the queries
and who the answers (``cheetah_matmul.dot``, used by ``cheetah.py``).

Rounds are estimates
--------------------
Neither table has round counts (``send_actions`` counts SPU's send calls, dominated by OT set-up, and is
not rounds). Each op gets a round estimate from the Cheetah / SPU protocol structure, built from the
constants below (a round as in ``docs/accounting.md``: a request and its answer are two rounds, a
simultaneous exchange is one). They are estimates, not measurements.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import cheetah_matmul as CM
from . import spu_logs

# --------------------------------------------------------------------------------------------------
# Round constants (estimates from the protocol structure; no measurement has rounds)
# --------------------------------------------------------------------------------------------------
RING_BITS = 64  # FM64: shares live in Z_2^64 (calibration README).
LEAF_BITS = 4  # Cheetah's millionaires' protocol cuts the 64-bit input into 4-bit digits (16 leaves).
OT_ROUNDS = 2  # A chosen-input OT from silent random COT: receiver's choice correction, then sender's
#                messages; two sequential messages = 2 rounds.
AND_ROUNDS = 1  # One AND of boolean shares with a silent-OT bit triple: both parties open at once.
CMP_TREE_ROUNDS = int(math.log2(RING_BITS // LEAF_BITS)) * AND_ROUNDS  # 4: AND tree over 16 leaves.
CMP_ROUNDS = OT_ROUNDS + CMP_TREE_ROUNDS  # 6: leaf OTs (1-of-16) then the (lt, eq) combining tree.
EQ_ROUNDS = OT_ROUNDS + CMP_TREE_ROUNDS  # 6: same shape: leaf equality OTs then an AND tree.
MSB_ROUNDS = CMP_ROUNDS  # 6: Cheetah's MSB is a millionaires' comparison on the low 63 bits.
MUX_ROUNDS = OT_ROUNDS  # 2: SPU's MulA1B: two COTs, one per direction, run in parallel.
B2A_ROUNDS = OT_ROUNDS  # 2: one COT per bit.
MUL_INT_ROUNDS = 2  # HE-based product: each party sends its encrypted share, the other answers with the
#                     masked product (both cross terms in parallel, opposite directions).
TRUNC_ROUNDS = OT_ROUNDS  # 2: SPU's Cheetah truncation with a known sign needs one COT for the wrap bit
#                           (a full wrap by millionaires would be CMP_ROUNDS).
MUL_FXP_ROUNDS = MUL_INT_ROUNDS + TRUNC_ROUNDS  # 4: product then truncation.
MATMUL_ROUNDS = MUL_INT_ROUNDS + TRUNC_ROUNDS  # 4: HE matmul (same message pattern) then truncation.
A2B_ROUNDS = 1 + int(math.log2(RING_BITS))  # 7: a parallel-prefix adder: generate/propagate, 6 levels.
PREFIX_OR_ROUNDS = int(math.log2(RING_BITS))  # 6: prefix OR over 64 bits, one AND level each.
HIGHEST_ONE_BIT_ROUNDS = A2B_ROUNDS + PREFIX_OR_ROUNDS + B2A_ROUNDS  # 15: SPU's highestOneBit.
EXP_ITERS = 8  # SPU's default exp (EXP_TAYLOR), kDefaultFxpExpIters = 8: (1 + x/2^8)^(2^8), i.e. one
#               truncation then 8 squarings.
EXP_ROUNDS = TRUNC_ROUNDS + EXP_ITERS * MUL_FXP_ROUNDS  # 34
GOLDSCHMIDT_ITERS = 2  # SPU's kDefaultFxpDivGoldschmidtIters (raised to 3 only from 30 fraction bits).
# SPU reciprocal_goldschmidt: msb, mux to |x|, highestOneBit, normalise (mul), e = 1 - c w (mul),
# GOLDSCHMIDT_ITERS x (r(1+e) with e^2 in parallel), scale back (mul), sign mux.
RECIPROCAL_ROUNDS = (MSB_ROUNDS + MUX_ROUNDS + HIGHEST_ONE_BIT_ROUNDS
                     + (3 + GOLDSCHMIDT_ITERS) * MUL_FXP_ROUNDS + MUX_ROUNDS)  # 45
SILU_ROUNDS = EXP_ROUNDS + RECIPROCAL_ROUNDS + MUL_FXP_ROUNDS  # 83: x * 1/(1 + exp(-x)).
CLAMP_ROUNDS = 2 * (CMP_ROUNDS + MUX_ROUNDS)  # 16: SPU's tanh clamps to [-3, 3]: max then min.
# jax.nn.gelu(approximate=True) on SPU: x^2, x^3 (2 muls), one truncation for the public scales, tanh
# (clamp; x^2, x^4 and the numerator: 3 muls; a Goldschmidt division = reciprocal + 1 mul), 0.5 x (1+t).
GELU_ROUNDS = (2 * MUL_FXP_ROUNDS + TRUNC_ROUNDS + CLAMP_ROUNDS + 3 * MUL_FXP_ROUNDS
               + RECIPROCAL_ROUNDS + MUL_FXP_ROUNDS + MUL_FXP_ROUNDS)  # 91
SELECT_ROUNDS = CMP_ROUNDS + MUX_ROUNDS  # 8: where(a > b, a, b).
COMPARE_SWAP_ROUNDS = CMP_ROUNDS + MUX_ROUNDS  # 8: one layer of a sorting network or a max tree.
# Top-k: the measured SPU top-k costs the same for t = 12 and t = 24 (0.2% apart), i.e. it sorts each
# row; its depth is taken as a bitonic network's, L (L + 1) / 2 layers with L = ceil(log2 cols), each
# layer one compare-and-swap, vectorised over rows (SPU 0.9.5's send calls grow with the row count, so it
# seems to loop over rows; a batched implementation need not).

ENV_VAR = "PRIVMOE_CALIBRATION"
MAIN_CSV = "spu_cheetah_fm64.csv"
ROWS_CSV = "spu_cheetah_fm64_rows.csv"

# Fit of the three top-k rows (see ``cheetah.topk_op``), bytes = fixed + a * rows * cols * log2(cols):
#   topk_k6  128 x 64,  t = 6 : measured  30,481,285, model  30,481,285, residual       0 (0)
#   topk_k12  64 x 768, t = 12: measured 278,574,226, model 278,837,946, residual +263,720 (+0.095%)
#   topk_k24  64 x 768, t = 24: measured 279,101,665, model 278,837,946, residual -263,720 (-0.094%)
# (a = 588.567 B, fixed = 1,552,019 B.) The largest relative residual, rounded up:
TOPK_MAX_REL_RESIDUAL = 0.001


class CalibrationError(FileNotFoundError):
    """The calibration tables are missing or incomplete."""


# --------------------------------------------------------------------------------------------------
# Loading and fitting
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearFit:
    """``bytes(n) = fixed + per_element * n`` through two measurements of one op.

    ``p0_share`` is party 0's (the client's) share of the marginal bytes, or None where the table has
    no per-party bytes. ``clamped`` says a negative slope or intercept was set to 0."""

    op: str
    source: str  # "<csv file>: <row selector>"
    n1: int
    bytes1: int
    n2: int
    bytes2: int
    fixed: float
    per_element: float
    p0_share: float | None = None
    clamped: bool = False

    def total(self, n: float) -> float:
        """Fixed + marginal bytes of a run alone on n elements (what the table measured)."""
        return self.fixed + self.per_element * n


def fit_line(op: str, source: str, n1: int, bytes1: int, n2: int, bytes2: int,
             p0_1: int | None = None, p0_2: int | None = None) -> LinearFit:
    """The line through (n1, bytes1) and (n2, bytes2); negative slope or intercept clamped to 0."""
    if n1 == n2:
        raise ValueError(f"{op}: two measurements at the same size {n1} cannot give a slope")
    per_element = (bytes2 - bytes1) / (n2 - n1)
    fixed = bytes1 - per_element * n1
    clamped = per_element < 0 or fixed < 0
    per_element, fixed = max(per_element, 0.0), max(fixed, 0.0)
    share = None
    if p0_1 is not None and p0_2 is not None and bytes2 != bytes1:
        share = min(max((p0_2 - p0_1) / (bytes2 - bytes1), 0.0), 1.0)
    return LinearFit(op, source, n1, bytes1, n2, bytes2, fixed, per_element, share, clamped)


def calibration_dir() -> Path:
    """``$PRIVMOE_CALIBRATION`` if set, else ``shared/calibration`` beside the repository root."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2].parent / "shared" / "calibration"


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise CalibrationError(
            f"cheetah calibration table not found: {path} (set {ENV_VAR} to the directory holding "
            f"{MAIN_CSV} and {ROWS_CSV})")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class _Tables:
    main: tuple[dict[str, str], ...]
    rows: tuple[dict[str, str], ...]
    small: dict[str, LinearFit]  # main-table op -> fit (ops measured at two sizes)
    rows_fits: dict[tuple[str, int, int], LinearFit]  # (rows op, E, smaller element count) -> fit


def _stamp(d: Path) -> tuple:
    """The cache key of a calibration directory: its path and both tables' size and mtime."""
    if not d.is_dir():
        raise CalibrationError(f"cheetah calibration directory not found: {d} (set {ENV_VAR} to the "
                               f"directory holding {MAIN_CSV} and {ROWS_CSV})")
    stamp = [str(d)]
    for name in (MAIN_CSV, ROWS_CSV):
        p = d / name
        if not p.is_file():
            raise CalibrationError(f"cheetah calibration table not found: {p} (set {ENV_VAR} to the "
                                   f"directory holding {MAIN_CSV} and {ROWS_CSV})")
        st = p.stat()
        stamp += [st.st_size, st.st_mtime_ns]
    return tuple(stamp)


@lru_cache(maxsize=8)
def _load(stamp: tuple) -> _Tables:
    d = Path(stamp[0])
    main, rows = _read(d / MAIN_CSV), _read(d / ROWS_CSV)

    by_op: dict[str, list[dict[str, str]]] = {}
    for r in main:
        by_op.setdefault(r["op"], []).append(r)
    small = {}
    for op, rs in by_op.items():
        if len(rs) == 2:
            a, b = sorted(rs, key=lambda r: int(r["numel"]))
            small[op] = fit_line(op, f"{MAIN_CSV}: {op} numel {a['numel']}, {b['numel']}",
                                 int(a["numel"]), int(a["send_bytes_total"]),
                                 int(b["numel"]), int(b["send_bytes_total"]))

    by_key: dict[tuple[str, int], list[dict[str, str]]] = {}
    for r in rows:
        by_key.setdefault((r["op"], int(r["E"])), []).append(r)
    rows_fits = {}
    for (op, e), rs in by_key.items():
        # Rows come in pairs of sizes (r, 4r); a group may hold several pairs (max/argmax/... E = 8).
        for a, b in zip(rs[0::2], rs[1::2]):
            a, b = sorted((a, b), key=lambda r: int(r["elements"]))
            tot = [int(r["p0_send_bytes"]) + int(r["p1_send_bytes"]) for r in (a, b)]
            rows_fits[(op, e, int(a["elements"]))] = fit_line(
                op, f"{ROWS_CSV}: {op} E={e} rows {a['rows']}, {b['rows']}",
                int(a["elements"]), tot[0], int(b["elements"]), tot[1],
                int(a["p0_send_bytes"]), int(b["p0_send_bytes"]))
    return _Tables(tuple(main), tuple(rows), small, rows_fits)


def _tables() -> _Tables:
    """The fitted tables, re-read when a table file changes (size or mtime)."""
    return _load(_stamp(calibration_dir()))


def small_size_fits() -> dict[str, LinearFit]:
    """Fits of the main table's ops measured at two sizes, keyed by the table's op name."""
    return dict(_tables().small)


def rows_table_fits() -> dict[tuple[str, int, int], LinearFit]:
    """Fits of the rows table, keyed by (op, E, smaller element count of the pair)."""
    return dict(_tables().rows_fits)


# The measurements of each projected op: (main-table op, rows-table (op, E)). The projection takes the
# fit measured at the largest sizes of the two; the rows fit also gives the direction split.
_SOURCES: dict[str, tuple[str | None, tuple[str, int] | None]] = {
    "less": ("less", ("cmp0", 8)),
    "equal": ("equal_int", ("eq", 8)),
    "mul": ("mul_fxp", ("mul", 8)),
    "mul_int": ("mul_int", None),
    "square": (None, ("square", 8)),
    "select": ("select", ("where", 8)),
    "exp": ("exp", ("exp", 8)),
    "reciprocal": ("reciprocal", ("recip", 8)),
    "silu": ("silu", ("silu", 8)),
    "gelu": ("gelu_tanh", ("gelu", 8)),
    "softmax": (None, ("softmax", 64)),
    "onehot": ("onehot_int", ("onehot", 64)),
    "max": (None, ("max", 64)),
    "argmax": (None, ("argmax", 64)),
}


@dataclass(frozen=True)
class _Unit:
    per_element: float
    p0_share: float
    fixed: float
    fit: LinearFit | None  # the fit projected with (None for derived ops)
    small: LinearFit | None  # the main-table fit, where there is one


def _rows_fit(t: _Tables, op: str, e: int) -> LinearFit:
    cands = [f for (o, ee, _), f in t.rows_fits.items() if o == op and ee == e]
    if not cands:
        raise CalibrationError(f"{ROWS_CSV} has no rows for op {op!r} with E={e}")
    return max(cands, key=lambda f: f.n2)


def _unit(op: str) -> _Unit:
    t = _tables()
    if op == "mux":
        sel, less = _unit("select"), _unit("less")
        return _Unit(max(sel.per_element - less.per_element, 0.0), 0.5, 0.0, None, None)
    if op == "b2a":
        return _Unit(_unit("mux").per_element / 2, 0.5, 0.0, None, None)
    main_op, rows_key = _SOURCES[op]
    small = t.small.get(main_op) if main_op else None
    if main_op and small is None:
        raise CalibrationError(f"{MAIN_CSV} has no two-size measurement of {main_op!r}")
    large = _rows_fit(t, *rows_key) if rows_key else None
    fits = [f for f in (small, large) if f is not None]
    used = max(fits, key=lambda f: f.n2)  # the slope measured at the largest sizes
    share = large.p0_share if large is not None and large.p0_share is not None else 0.5
    return _Unit(used.per_element, share, used.fixed, used, small)


# --------------------------------------------------------------------------------------------------
# Round estimates of row-wise ops
# --------------------------------------------------------------------------------------------------
def _log2_ceil(x: int) -> int:
    return max(0, math.ceil(math.log2(x))) if x > 1 else 0


def max_rounds(cols: int) -> int:
    """Depth of a max tree over ``cols`` values: ceil(log2 cols) compare-and-swap layers."""
    return _log2_ceil(cols) * COMPARE_SWAP_ROUNDS


def softmax_rounds(cols: int) -> int:
    """Row max, exp, one Goldschmidt division (reciprocal + product)."""
    return max_rounds(cols) + EXP_ROUNDS + RECIPROCAL_ROUNDS + MUL_FXP_ROUNDS


# --------------------------------------------------------------------------------------------------
# Top-k fits
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopkFit:
    """``bytes = fixed + per_unit * rows * cols * log2(cols)``, least squares over the top-k rows."""

    fixed: float
    per_unit: float
    p0_share: float
    points: tuple[tuple[str, int, int, int, int], ...]  # (op, rows, cols, t, measured bytes)

    def total(self, rows: int, cols: int) -> float:
        return self.fixed + self.per_unit * _topk_units(rows, cols)


def _topk_units(rows: int, cols: int) -> float:
    return rows * cols * math.log2(cols) if cols > 1 else 0.0


def calibration_topk_fit() -> TopkFit:
    """Fit of the calibration's ``topk_k{t}`` rows (SPU 0.9.5's ``lax.top_k``): kept for comparison, not
    used by the projections (``topk_fit`` is)."""
    return _calibration_topk_fit(_stamp(calibration_dir()))


@lru_cache(maxsize=8)
def _calibration_topk_fit(stamp: tuple) -> TopkFit:
    t = _load(stamp)
    pts = []
    for r in t.main:
        if r["op"].startswith("topk_k"):
            rr, cc = (int(v) for v in r["shape"].split("x"))
            pts.append((r["op"], rr, cc, int(r["op"][len("topk_k"):]), int(r["send_bytes_total"])))
    xs = [_topk_units(rr, cc) for _, rr, cc, _, _ in pts]
    if len(pts) < 2 or len(set(xs)) < 2:
        raise CalibrationError(f"{MAIN_CSV} needs top-k rows at two shapes, found {len(pts)}")
    ys = [p[4] for p in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    fixed = my - a * mx
    return TopkFit(max(fixed, 0.0), max(a, 0.0), _topk_share(), tuple(pts))


def _topk_share() -> float:
    top2 = _rows_fit(_tables(), "top2", 64)
    return top2.p0_share if top2.p0_share is not None else 0.5


def topk_fit() -> TopkFit:
    """The top-k unit the projections use: ``bytes = per_unit * rows * cols * log2(cols)``, least squares
    through the origin over the fifteen top-k lines of the CryptoMoE authors' SPU logs (``spu_logs``).

    Their SPU sorts a row by shuffling it (``perm_ss``) and revealing comparisons, about 1,140 bytes per
    unit at every shape they ran (the gate's 128 x E and the dispatch's E x k m alike, largest residual
    ``logs_topk_residual()``); SPU 0.9.5's ``lax.top_k`` of the calibration costs about half that
    (``calibration_topk_fit``). The logs win: they are what the papers' numbers were measured on."""
    pts = spu_logs.topk_points()
    a = sum(u * y for _, u, y in pts) / sum(u * u for _, u, _ in pts)
    return TopkFit(0.0, a, _topk_share(), tuple((lab, 0, 0, 0, y) for lab, _, y in pts))


def logs_topk_residual() -> float:
    """The largest |model / logged - 1| of ``topk_fit`` over the logged top-k lines."""
    a = topk_fit().per_unit
    return max(abs(a * u / y - 1) for _, u, y in spu_logs.topk_points())


def topk_rounds(cols: int) -> int:
    """Bitonic sorting-network depth over ``cols`` (independent of t, like the measured bytes)."""
    L = _log2_ceil(cols)
    return L * (L + 1) // 2 * COMPARE_SWAP_ROUNDS


def setup_bytes() -> int:
    """One-off set-up a session pays once, never per op: the HE key exchange of the matmuls
    (``cheetah_matmul.setup_bytes``: public and Galois keys, both ways) plus the OT set-up.

    Each op run alone paid its own OT set-up (the intercept of its fit); a session running them all pays
    at least the largest, which is what is added: the largest intercept among the fits the projections
    use (3.27 MB, ``gelu``; comparison-based ops show 2.95 MB, HE-based ones 2.73 MB)."""
    ops = [op for op in _SOURCES]
    return int(round(max(_unit(op).fixed for op in ops))) + CM.setup_bytes().bytes


# --------------------------------------------------------------------------------------------------
# The unit-cost table
# --------------------------------------------------------------------------------------------------
_ROUNDS = {"less": CMP_ROUNDS, "equal": EQ_ROUNDS, "mul": MUL_FXP_ROUNDS, "mul_int": MUL_INT_ROUNDS,
           "square": MUL_FXP_ROUNDS, "select": SELECT_ROUNDS, "exp": EXP_ROUNDS,
           "reciprocal": RECIPROCAL_ROUNDS, "silu": SILU_ROUNDS, "gelu": GELU_ROUNDS,
           "softmax": softmax_rounds(64), "onehot": EQ_ROUNDS, "max": max_rounds(64),
           "argmax": max_rounds(64), "mux": MUX_ROUNDS, "b2a": B2A_ROUNDS}


def unit_costs():
    """One row per calibrated op: ``op, unit, fixed_bytes, per_element_bytes, p0_share,
    rounds_estimate, source, main_table_per_element_bytes, note``.

    ``per_element_bytes`` is the slope the projections use (bytes per ``unit``); ``fixed_bytes`` is
    the intercept of that fit (set-up, not charged per call); ``main_table_per_element_bytes`` is the
    main table's slope (1024/8192 elements for the elementwise ops) where the op is there, for
    comparison. Rounds of row-wise ops (softmax, max, argmax, topk) are for 64 columns."""
    import pandas as pd

    rows = []
    for op in list(_SOURCES) + ["mux", "b2a"]:
        u = _unit(op)
        if u.fit is None:
            src = "derived: select - less" if op == "mux" else "derived: mux / 2"
            note = "no fixed part (difference of two fits)" if op == "mux" else "estimate, one COT per bit"
        else:
            src = u.fit.source
            note = "clamped" if u.fit.clamped else ""
        if op in ("mul_int",):
            note = (note + "; " if note else "") + "main table only: split 50/50"
        rows.append(dict(op=op, unit="element", fixed_bytes=u.fixed, per_element_bytes=u.per_element,
                         p0_share=u.p0_share, rounds_estimate=_ROUNDS[op], source=src,
                         main_table_per_element_bytes=u.small.per_element if u.small else float("nan"),
                         note=note))
    tf, cal = topk_fit(), calibration_topk_fit()
    rows.append(dict(op="topk", unit="rows*cols*log2(cols)", fixed_bytes=tf.fixed,
                     per_element_bytes=tf.per_unit, p0_share=tf.p0_share, rounds_estimate=topk_rounds(64),
                     source=f"CryptoMoE authors' SPU logs: {len(tf.points)} top-k lines (least squares through 0)",
                     main_table_per_element_bytes=cal.per_unit,
                     note=(f"independent of k; logs' residuals <= {logs_topk_residual():.1%}; the main-table "
                           f"column is the calibration's lax.top_k fit; split from rows top2 E=64")))
    for op, size in (("matmul_query", CM.QUERY_BYTES), ("matmul_answer", CM.ANSWER_BYTES)):
        rows.append(dict(op=op, unit="ciphertext", fixed_bytes=float(CM.setup_bytes().bytes),
                         per_element_bytes=float(size), p0_share=0.5, rounds_estimate=MATMUL_ROUNDS,
                         source="structure (cheetah_matmul.py): a measured SEAL serialisation (zstd)",
                         main_table_per_element_bytes=float("nan"),
                         note=("counts from the partition of the shape; fixed = the key exchange; "
                               "a shared product is two calls, one each way (split 50/50)")))
    return pd.DataFrame(rows)
