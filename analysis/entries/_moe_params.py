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
