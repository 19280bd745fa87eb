"""Pi_combine, CryptoMoE (Algorithm 2); spec ``functionalities/combine.py``.

``y = sum_e O_e^T (S'_e * y_e)``, inputs [y] (E, t, d), [O] (E, t, m), [S'] (E, t). Two orders:

* ``scores_first`` (the paper's Algorithm 2): ``R_e = O_e^T * S'_e`` (E m t products; O is an integer so
  no truncation) then ``R_e y_e`` (batched matmul). Opens 2 E m t + E t + E t d elements each way.
* ``outputs_first`` (the authors' code): ``y'_e = S'_e * y_e`` (E t d products) then ``O_e^T y'_e``.
  Opens E t + 2 E t d + E t m elements each way.

Both take 2 rounds; they differ by E t (m - d) elements each way, so ``variant="auto"`` (the default)
takes ``scores_first`` when m <= d -- the prefill regime of every target model (m = 128 < d = 2048) --
and ``outputs_first`` otherwise. The choice depends on public sizes only.
Error: ``scores_first`` truncates each (expert, token) sum once: < 2 E ULP per token. ``outputs_first``
truncates every scaled row (< 2 ULP each) and a token may collect up to t rows of one expert (itself or
padding): < 2 E t ULP. Both are within |y - ideal| < 2 E (t + 1) ULP.
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

VARIANTS = ("auto", "scores_first", "outputs_first")


def choose_variant(tokens: int, hidden: int, variant: str = "auto") -> str:
    """The cheaper order for m tokens of width d (see module docstring)."""
    if variant not in VARIANTS:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if variant != "auto":
        return variant
    return "scores_first" if tokens <= hidden else "outputs_first"


def combine(y: MPCTensor, O: MPCTensor, S: MPCTensor, variant: str = "auto") -> MPCTensor:
    """-> (m, d) shared."""
    experts, capacity, hidden = y.shape
    tokens = O.shape[-1]
    chosen = choose_variant(tokens, hidden, variant)
    Ot = O.transpose(1, 2)                                          # (E, m, t)
    if chosen == "scores_first":
        with step("scale"):
            R = Ot * S.unsqueeze(1)
        with step("combine_matmul"):
            return R.matmul(y).sum(0)
    with step("scale"):
        ys = y * S.unsqueeze(-1)
    with step("combine_matmul"):
        return Ot.matmul(ys).sum(0)
