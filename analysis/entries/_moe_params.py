"""Public parameters shared by the MoE entries (a helper module, not an entry)."""
from functionalities.routing import resolve_capacity

ROUTING_DEFAULTS = {"tokens": 8, "hidden": 4, "experts": 4, "top_k": 2, "capacity": None, "capacity_factor": 2.0}
ALIASES = {"t": "capacity", "m": "tokens", "E": "experts", "k": "top_k", "d": "hidden", "f": "capacity_factor"}


def derive_capacity(p: dict) -> dict:
    """t = capacity if given, else floor(capacity_factor * top_k * tokens / experts)."""
    if p.get("capacity") is None:
        p = {**p, "capacity": resolve_capacity(p["tokens"], p["experts"], p["top_k"], None, p["capacity_factor"])}
    return p
