"""[[W]] x [[x]] (``protocols/he/encrypted_linear.py``): the product and its closed form on SEAL, the slot
simulator and the count-only simulator; garbage outside W's block never reaches the result; the shape
refusals."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.cost_models import he as H
from functionalities.errors import PublicParameterError
from protocols.he import encrypted_linear as EL
from protocols.he.interface import HEParams
from protocols.he.seal_backend import SealBackend
from simulators.he import SimBackend, SimCountBackend

PARAMS = HEParams(8192)
COUNTED = ("ct_mults", "relinearizations", "rotations", "key_switches", "ct_adds")


def _run(cls, W, x, garbage):
    rows, cols = W.shape
    slots = PARAMS.slots
    be = cls(PARAMS, seed=1)
    be.prepare(EL.steps(rows, cols))
    be.prepare_relin()
    w_vec = EL.flatten(W, slots)
    w_vec[rows * cols:] = garbage[rows * cols:]              # the selection tree leaves other blocks non-zero
    W_ct, x_ct = be.encrypt(w_vec), be.encrypt(EL.replicate(x, cols, slots))
    before = {k: getattr(be.counts, k) for k in COUNTED}
    y = EL.matvec(be, W_ct, x_ct, rows, cols)
    counts = {k: getattr(be.counts, k) - before[k] for k in COUNTED}
    return be.decrypt(y)[:cols], counts, be.noise_budget(y)


@pytest.mark.parametrize("rows,cols", [(1, 5), (4, 4), (5, 3), (16, 64), (3, 1)])
def test_matvec_is_x_times_w_on_every_backend_with_its_closed_form(rows, cols):
    rng = np.random.default_rng(rows * 100 + cols)
    t = SimBackend(PARAMS).plain_modulus
    W = rng.integers(0, t, (rows, cols), dtype=np.uint64)
    x = rng.integers(0, t, rows, dtype=np.uint64)
    garbage = rng.integers(1, t, PARAMS.slots, dtype=np.uint64)
    want = (x.astype(object) @ W.astype(object)) % t
    model = H.encrypted_matvec(rows, cols).to_dict()
    for cls in (SealBackend, SimBackend, SimCountBackend):
        got, counts, budget = _run(cls, W, x, garbage)
        if cls is not SimCountBackend:
            assert np.array_equal(got.astype(object), want), cls.__name__
        assert counts == {k: model[k] for k in COUNTED}, (cls.__name__, counts)
        if cls is SealBackend:
            assert budget > 0


def test_the_tree_must_not_wrap():
    with pytest.raises(PublicParameterError, match="exceeds"):
        EL.check(5, PARAMS.slots // 4, PARAMS.slots)          # 8 padded rows x S/4 columns > S
    EL.check(4, PARAMS.slots // 4, PARAMS.slots)
    with pytest.raises(PublicParameterError):
        EL.replicate(np.ones(3, dtype=np.uint64), 0, PARAMS.slots)


def test_secmoes_range_conditions_refuse_what_would_convert_or_decrypt_wrongly():
    """check_dims: |g| <= (d/2)^2 must stay within the statistical mask (2^7 at 2^16), products below t/2,
    blocks within the slots; the defaults pass."""
    from protocols.mpc import secmoe_moe as SM

    params = SM.he_params()
    SM.check_dims(4, 4, params)
    SM.check_dims(16, 32, params)
    with pytest.raises(PublicParameterError, match="statistical mask"):
        SM.check_dims(32, 4, params)                 # |g| up to 256 > 2^7
    with pytest.raises(PublicParameterError, match="beyond t/2"):
        SM.check_dims(16, 4096, params)              # 4096 (d/2)^2 / 2 2^32 > 2^44
