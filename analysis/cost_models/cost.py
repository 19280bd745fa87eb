"""The ``Cost`` value every cost model returns, with a per-step breakdown.

``a + b`` is sequential composition (every metric adds, rounds included); ``k * a`` repeats ``a`` k times;
``a.labelled("topk")`` files the whole of ``a`` under step ``topk`` (its own steps become ``topk/...``).
Metrics that do not apply to a backend are 0, never missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

METRICS = ("rounds", "bytes", "bytes_client_to_server", "bytes_server_to_client", "offline_bytes",
           "rotations", "pt_mults", "ct_adds", "ciphertexts", "key_switches", "key_bytes", "ct_mults",
           "relinearizations")
_ADDITIVE = tuple(m for m in METRICS if m != "bytes")


@dataclass(frozen=True)
class Cost:
    """Rounds, payload bytes per direction, offline bytes, HE key bytes, and HE operation counts."""

    rounds: int = 0
    bytes_client_to_server: int = 0
    bytes_server_to_client: int = 0
    offline_bytes: int = 0
    rotations: int = 0
    pt_mults: int = 0
    ct_adds: int = 0
    ciphertexts: int = 0
    key_switches: int = 0
    #: the client's HE public material (parameters, public key, Galois keys), once per run (Meter phase ``keys``)
    key_bytes: int = 0
    #: ciphertext x ciphertext products and relinearisations (each relinearisation is also a key switch)
    ct_mults: int = 0
    relinearizations: int = 0
    steps: tuple[tuple[str, "Cost"], ...] = field(default=(), compare=False)

    @property
    def bytes(self) -> int:
        """Online bytes, both directions."""
        return self.bytes_client_to_server + self.bytes_server_to_client

    @staticmethod
    def symmetric(rounds: int, bytes_each_way: int, offline_bytes: int = 0) -> "Cost":
        """A cost where both parties send the same amount (every Beaver-style opening)."""
        return Cost(rounds=rounds, bytes_client_to_server=bytes_each_way,
                    bytes_server_to_client=bytes_each_way, offline_bytes=offline_bytes)

    def flat(self) -> "Cost":
        """The same totals without the step breakdown."""
        return replace(self, steps=())

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        merged: dict[str, Cost] = dict(self.steps)
        for name, c in other.steps:
            merged[name] = merged[name].flat() + c if name in merged else c
        return Cost(**{m: getattr(self, m) + getattr(other, m) for m in _ADDITIVE},
                    steps=tuple(merged.items()))

    def __radd__(self, other):
        return self if other == 0 else self.__add__(other)

    def __mul__(self, k: int) -> "Cost":
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            return NotImplemented
        return Cost(**{m: getattr(self, m) * k for m in _ADDITIVE},
                    steps=tuple((n, c * k) for n, c in self.steps))

    __rmul__ = __mul__

    def labelled(self, name: str) -> "Cost":
        """File the whole cost under step ``name``; existing steps become ``name/<step>``."""
        inner = tuple((f"{name}/{n}", c) for n, c in self.steps)
        return replace(self, steps=((name, self.flat()),) + inner)

    def step(self, name: str) -> "Cost":
        """The cost filed under step path ``name``."""
        for n, c in self.steps:
            if n == name:
                return c
        raise KeyError(f"no step {name!r} in this cost (steps: {[n for n, _ in self.steps]})")

    def to_dict(self) -> dict[str, int]:
        """Every metric (``METRICS``), 0 where it does not apply."""
        return {m: int(getattr(self, m)) for m in METRICS}

    def steps_list(self) -> list[dict]:
        """``[{"step": name, **metrics}]`` in order."""
        return [{"step": n, **c.to_dict()} for n, c in self.steps]


ZERO = Cost()
assert {f.name for f in fields(Cost)} >= set(_ADDITIVE)
