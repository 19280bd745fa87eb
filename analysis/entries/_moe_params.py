"""Public parameters shared by the MoE entries (a helper module, not an entry)."""
from functionalities.errors import PrivMoEError
from functionalities.routing import resolve_capacity

ROUTING_DEFAULTS = {"tokens": 8, "hidden": 4, "experts": 4, "top_k": 2, "capacity": None, "capacity_factor": 2.0}
ALIASES = {"t": "capacity", "m": "tokens", "E": "experts", "k": "top_k", "d": "hidden", "f": "capacity_factor"}


def derive_capacity(p: dict) -> dict:
    """t = capacity if given, else floor(capacity_factor * top_k * tokens / experts).

    An explicit capacity wins over the factor; a factor that would give another t is not used, and the
    resolved parameters say ``capacity_factor: None`` rather than show one that contradicts t (one that
    agrees stays, so resolving resolved parameters changes nothing)."""
    if p.get("capacity") is None:
        return {**p, "capacity": resolve_capacity(p["tokens"], p["experts"], p["top_k"], None, p["capacity_factor"])}
    if p.get("capacity_factor") is not None:
        try:
            implied = resolve_capacity(p["tokens"], p["experts"], p["top_k"], None, p["capacity_factor"])
        except PrivMoEError:     # a factor giving no valid t contradicts any t (bad sizes: validate names them)
            implied = None
        if implied != p["capacity"]:
            p = {**p, "capacity_factor": None}
    return p


#: the top-t's public parameters: ``topk`` a method of ``protocols.mpc.topk.METHODS`` (the gate's top-k:
#: ``ONEHOT_METHODS``; a layer's gate: ``gate_topk``); ``network`` None, "LAN", "WAN" or "BW_Mbps,RTT_ms": with a
#: network, a method left at "auto" resolves to the one with the least modelled latency there
#: (``sorting.pick_method`` / ``pick_onehot_method`` on the cheetah model: the unit costs of the stack the papers
#: ran, so one pick for a projection and a run; on crypten's own costs, 27 words a comparison, WAN would keep
#: ``merge`` for the dispatch at OLMoE-7B's size)
TOPK_DEFAULTS = {"topk": "auto", "network": None}
GATE_TOPK_DEFAULTS = {"gate_topk": "auto", "network": None}


def derive_topk(p: dict, rows: int, length: int, t: int, key: str = "topk", onehots: bool = False) -> dict:
    """``p[key]`` = the method the network rule picks for a top-t of ``t`` over ``rows`` rows of ``length``
    (``onehots``: a top-t that also returns the one-hots, the gate's) on ``p["network"]``, when ``p[key]`` is
    "auto" and a network is given; else ``p`` unchanged (so resolving resolved parameters changes nothing). A bad
    method or network is refused by name."""
    from analysis.cost_models import cheetah
    from analysis.cost_models.sorting import pick_method, pick_onehot_method
    from functionalities.errors import PublicParameterError
    from functionalities.topk import validate
    from protocols.mpc.topk import METHODS, ONEHOT_METHODS
    from simulators.network import Network

    methods = ONEHOT_METHODS if onehots else METHODS
    if p.get(key, "auto") not in methods:
        raise PublicParameterError(f"{key} must be one of {methods}, got {p[key]!r}")
    validate(rows, length, t)
    if p.get("network") is None or p.get(key, "auto") != "auto":
        return p
    try:
        net = Network.parse(str(p["network"]))
    except ValueError:
        raise PublicParameterError(f"network must be LAN, WAN or BW_Mbps,RTT_ms, got {p['network']!r}") from None
    if net.bandwidth_bps <= 0 or net.rtt_s < 0:
        raise PublicParameterError(f"network needs a positive bandwidth and a non-negative RTT, got {p['network']!r}")
    pick = pick_onehot_method if onehots else pick_method
    return {**p, key: pick(cheetah, rows, length, t, net)}
