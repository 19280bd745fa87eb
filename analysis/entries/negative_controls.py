"""Negative controls: protocols that are WRONG on purpose. Each must be caught by a check (an uncaught
control fails ``privmoe verify``); none has a cost model, so no control is caught by a cost mismatch.
Every one keeps the output correct (equivalence passes). ``insecure.moe`` (opens the routing; per-expert
counts show in the message sizes) lives with the layers. Each control COMPOSES a secure entry with one
leak from ``protocols/mpc/leaks.py`` or ``protocols/he/leaks.py``, planted from outside the protocol
(``protocols/runtime/faults.py``: taps on published intermediates, a substituted generator, the runtime's
dealer, a wrapped HE backend); no protocol has a parameter or switch for its control:

=======================  ========================================================================  ===========
control                  the leak                                                                  class
=======================  ========================================================================  ===========
``leaky.dispatch``       CryptoMoE's dispatch that also opens the top-t token indices              unprotected
``unmasked.matmul``      batch HE matmul whose server's mask generator returns zeros: A B reaches   unprotected
                         the client unmasked (the masks are still claimed)
``leaky_dealer.equal``   the dealer also hands the client the server's triple halves              mask reuse
``reuse.dispatch``       the dealer repeats one row of each Beaver mask: one mask row for every     mask reuse
                         expert in dispatch's mux, so eps_e - eps_e' is the routing
``share_sent.gate``      the client sends its share of K to the server (claimed masked)            own share
``gathered.gate``        the same through ``all_gather``, both ways                                own share
``round_channel.gate``   one extra round iff the server's weight W_g[0, 0] > 0                     rounds
``occasional.gate``      K opened in the clear in one run of 8                                      unprotected
``weak_mask.dispatch``   S + r opened with r < 2^20 (claimed a 64-bit mask)                        weak mask
``one_token.gate``       the bit [K[0, 0] == 0] opened (claimed masked)                            unprotected
``key_leak.matmul``      the server holds a copy of the client's HE key and decrypts its queries   unprotected
``unmasked_secmoe.moe``  SecMoE whose server's mask generator returns zeros: the client decrypts   unprotected
                         expert weights
``unflooded.matmul``     batch HE matmul whose answers are neither re-randomised nor noise-flooded:  unprotected
                         their decryption noise (the client's ``noise`` items) does not move with the
                         server's randomness, and is not the flooding's distribution
=======================  ========================================================================  ===========
"""
from dataclasses import replace

import analysis.entries.cryptomoe_dispatch  # noqa: F401  the secure entries the controls compose
import analysis.entries.equal  # noqa: F401
import analysis.entries.gate  # noqa: F401
import analysis.entries.matmul as HM
import analysis.entries.moe_layers  # noqa: F401
import protocols.mpc.cryptomoe_dispatch as CD
import protocols.mpc.gate as G
from analysis.entries.gate import sizes as gate_sizes
from analysis.entry import registered, register
from analysis.strategies import routing_params
from protocols.he.leaks import ZeroGenerator, key_copy, unflooded
from protocols.mpc import leaks
from protocols.runtime import step
from protocols.runtime.faults import planted


def _control(base: str, name: str, summary: str, **changes):
    """The secure entry ``base`` composed with a leak (``changes``): a control, without cost models. The
    dispatch and gate controls draw their sizes as before the top-t method became a parameter (``routing_params``,
    ``gate.sizes``): their leaks do not depend on it, and their recorded security runs stay the same draws."""
    return register(replace(registered(base), name=name, negative_control=True,
                            summary=f"NEGATIVE CONTROL: {summary}", costs={}, **changes))


def _dispatch(taps):
    def real(p, s):
        with planted(taps=taps):
            return CD.dispatch(s["x"], s["K"], s["W"], p["experts"], p["capacity"])
    return real


def _gate(taps):
    def real(p, s):
        with planted(taps=taps):
            return G.gate(s["x"], s["w_g"], p["top_k"])
    return real


def _in_step(name, fn):
    def tap(x):
        with step(name):
            fn(x)
    return tap


def _open_indices(T):
    with step("open_indices"):
        T.get_plain_text()


def _round_gate(p, s, own):
    """The server knows W_g: it orders one exchange by the sign of W_g[0, 0]."""
    bit = bool(own["w_g"][0, 0] > 0) if "w_g" in own else None
    with planted(taps={"K": _in_step("topk", lambda K: leaks.round_channel(bit))}):
        return G.gate(s["x"], s["w_g"], p["top_k"])


def _secmoe_unmasked(base):
    def real(p, s, own):
        with planted(generators={("secmoe", "answer masks"): ZeroGenerator}, parties=("server",)):
            return base(p, s, own)
    return real


def _he_unmasked(base):
    """An HE entry whose server's answer-mask generator returns zeros (still claimed as masks)."""
    def real(p, own, backend):
        with planted(generators={("he", "answer masks"): ZeroGenerator}, parties=("server",)):
            return base(p, own, backend)
    return real


_control("cryptomoe.dispatch", "leaky.dispatch", "CryptoMoE dispatch that opens the top-t token indices",
         real=_dispatch({"T": _open_indices}), params_strategy=routing_params)
_control("cryptomoe.matmul", "unmasked.matmul", "HE matmul whose result reaches the client without the mask",
         real=_he_unmasked(registered("cryptomoe.matmul").real))
_control("equal", "leaky_dealer.equal", "equal with a dealer that gives the client the server's triple halves",
         dealer="leaky")
_control("cryptomoe.dispatch", "reuse.dispatch",
         "CryptoMoE dispatch with a dealer that repeats one row of each Beaver mask (mux: one row for all experts)",
         dealer="reuse-rows", params_strategy=routing_params)
_control("gate", "share_sent.gate", "gate whose client sends its share of K to the server (claimed masked)",
         real=_gate({"K": _in_step("topk", lambda K: leaks.send_share(K, sender=0))}), params_strategy=gate_sizes)
_control("gate", "gathered.gate", "gate whose parties all_gather their shares of K (claimed masked)",
         real=_gate({"K": _in_step("topk", leaks.gather_shares)}), params_strategy=gate_sizes)
_control("gate", "round_channel.gate", "gate with one extra round iff the server's W_g[0, 0] > 0",
         real=_round_gate, plain_inputs=True, params_strategy=gate_sizes)
_control("gate", "occasional.gate", "gate that opens K in the clear in one run of 8",
         real=_gate({"K": _in_step("topk", leaks.sometimes_open)}), params_strategy=gate_sizes)
_control("cryptomoe.dispatch", "weak_mask.dispatch", "CryptoMoE dispatch that opens S + r, r < 2^20",
         real=_dispatch({"S": _in_step("mux", leaks.open_weakly_masked)}), params_strategy=routing_params)
_control("gate", "one_token.gate", "gate that opens the bit [K[0, 0] == 0] (claimed masked)",
         real=_gate({"K": _in_step("topk", lambda K: leaks.open_claimed(K[0:1, 0:1].eq(0)))}),
         params_strategy=gate_sizes)
_control("cryptomoe.matmul", "key_leak.matmul",
         "HE matmul whose server holds a copy of the client's key and decrypts its queries",
         real=HM.real("batch", wrap=key_copy))
_control("secmoe.moe", "unmasked_secmoe.moe", "SecMoE whose server returns its HE answers without masks",
         real=_secmoe_unmasked(registered("secmoe.moe").real))
_control("cryptomoe.matmul", "unflooded.matmul",
         "HE matmul whose answers are neither re-randomised nor noise-flooded (decryption noise = the weights')",
         real=HM.real("batch", wrap=unflooded))
