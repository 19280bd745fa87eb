"""Negative controls: protocols that are WRONG on purpose. Each must be caught by a check (an uncaught
control fails ``privmoe verify``). ``insecure.moe`` (opens the routing; per-expert counts show in the
message sizes) lives with the layers; here:

* ``leaky.dispatch``      -- CryptoMoE's dispatch that also opens the top-t token indices;
* ``unmasked.matmul``     -- the batch HE matmul returning A B to the client without the server's mask;
* ``leaky_dealer.equal``  -- ``equal`` with a dealer that also hands the client the server's triple halves.
"""
from dataclasses import replace

import protocols.mpc.cryptomoe_dispatch as CD
from analysis.entries.he_matmul import runner
from analysis.registry import get, register

register(replace(get("cryptomoe.dispatch"), name="leaky.dispatch", negative_control=True,
                 summary="NEGATIVE CONTROL: CryptoMoE dispatch that opens the top-t token indices",
                 real=lambda p, s: CD.dispatch(s["x"], s["K"], s["W"], p["experts"], p["capacity"],
                                               _open_indices=True),
                 costs={}))
register(replace(get("cryptomoe.batch_matmul"), name="unmasked.matmul", negative_control=True,
                 summary="NEGATIVE CONTROL: HE matmul whose result reaches the client without the mask",
                 runner=runner("batch", mask=False)))
register(replace(get("equal"), name="leaky_dealer.equal", negative_control=True, dealer="leaky",
                 summary="NEGATIVE CONTROL: equal with a dealer that gives the client the server's triple halves",
                 costs={}))
