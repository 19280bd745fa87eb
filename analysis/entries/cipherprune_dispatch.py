"""Registry entry: ``cipherprune.dispatch`` (oblivious compaction by compare-and-swap)."""
import protocols.mpc.cipherprune_dispatch as P
from analysis.cost_models import moe as M
from analysis.entries.cryptomoe_dispatch import dispatch_entry
from analysis.entry import register
from analysis.strategies import routing_params

register(dispatch_entry(
    "cipherprune.dispatch",
    "CipherPrune-style dispatch: score-bound rows compacted by a pipelined compare-and-swap network",
    P.dispatch, M.cipherprune_dispatch, "docs/protocols/cipherprune_dispatch.md",
    params_strategy=lambda: routing_params(max_tokens=3, max_experts=3)))
