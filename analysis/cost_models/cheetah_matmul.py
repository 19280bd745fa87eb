"""Cheetah/BumbleBee's HE matmul as SPU runs it: its cost is a count of ciphertexts.

A product ``A (m x k) @ B (k x n)`` between two parties (one holds A, the other B, or each a share of
both) is computed by SPU's ``CheetahDot`` with Cheetah's coefficient encoding (Huang et al., USENIX
Security 2022, section 3.3) and BumbleBee's response packing (Lu et al., NDSS 2025, section 4). Nothing
here is fitted: the counts follow from the shape, and the ciphertext sizes from the modulus chain.

Partition
---------
The product is cut into sub-products of ``(d0, d1, d2)`` with ``d0 d1 d2 <= N`` (one polynomial holds a
d0 x d1 block of A, another a d1 x d2 block of B, and their product's d0 d2 useful coefficients land in
one polynomial). With ``b_i = ceil(dim_i / d_i)`` blocks per axis:

* the LEFT side is ``b0 b1`` polynomials, the RIGHT side ``b1 b2``; the party whose side needs fewer
  polynomials encrypts it (the left on a tie) and sends it: ``queries = min(b0, b2) b1``;
* the other party multiplies, masks and answers ``b0 b2`` result ciphertexts, then packs them:
  ``interleave`` (BumbleBee: ``d1`` results into one, ``ceil(b0 b2 / d1)`` answers), ``pack_lwes``
  (Chen-Dai-Kim-Song: every useful coefficient gathered, ``ceil(m n / N)`` answers) or ``none``;
* SPU picks ``(d0, d1, d2)`` by enumerating d0 = 1..min(N, m) and d1 (powers of two when answers are
  packed, every integer otherwise) with ``d2 = min(n, N / (d0 d1))``, minimising
  ``1000 (queries + answers) + automorphisms + products / 10`` (automorphisms ``ceil(m n / N) d1`` when
  packing, products ``b0 b1 b2``), the last minimum on ties;
* packing: ``none`` when there is a single result block, else ``interleave`` if ``d1 < m n``, else
  ``pack_lwes``; the partition is then recomputed for that choice.

This is the rule of SPU's ``MatMatProtocol::GetSubMatShape`` and ``CheetahDot::doDotOLE``
(github.com/secretflow/spu, ``libspu/mpc/cheetah/arith/``), written here in our own words; every
subshape the CryptoMoE authors' logs print is reproduced by it (``tests/test_published.py``).

Bytes
-----
N = 8192 and the coefficient modulus {59, 55, 49} plus a 55-bit special prime (the parameters SPU picks
for the 64-bit ring; its logs say "3@2 modulus": queries over 3 primes, answers switched down to 2).

* a query is a *seeded* symmetric encryption: one polynomial over {59, 55, 49} and a PRNG seed;
* an answer is a full ciphertext (two polynomials) over {59, 55};
* an unpacked answer (``none``) keeps only the d0 d2 useful coefficients of its first polynomial, the
  rest zeroed: its second polynomial plus those coefficients.

SPU sends SEAL's own serialisation, which compresses with zstd, so a ciphertext is smaller than its
``polys x N x primes x 8`` words: a residue below 2^59 leaves 5 zero bits in its 64-bit word. The sizes
below were MEASURED by serialising fresh ciphertexts with SEAL (tenseal.sealapi, zstd), mean of 16; the
words they hold are fixed by the modulus chain, only zstd's exact output is data dependent (+-60 bytes).
``measure_ciphertext_bytes()`` measures them again (``tests/test_published.py`` does, every run).

| ciphertext | words (N x primes x polys) | uncompressed | SEAL + zstd (measured) |
|---|---|---|---|
| query (seeded, {59,55,49}) | 8192 x 3 x 1 | 196,608 B | 184,983 B = 0.1764 MiB |
| answer ({59,55}) | 8192 x 2 x 2 | 262,144 B | 254,285 B = 0.2425 MiB |

The CryptoMoE authors' SPU logs print 0.1764 MiB per query and 0.2426 MiB per answer.

Set-up, once per session (``setup_bytes``): each party sends the other its public key and the Galois
keys BumbleBee's packing needs (13 automorphisms at N = 8192, seeded): 493,782 + 9,633,776 bytes each
way, measured the same way (``measure_key_bytes``). The calibration's one measured matmul (128 x 2048 x
64, set-up inside) equals the two calls plus this exchange plus less than the OT set-up of a truncation
(``tests/test_cheetah_model.py``).

Rounds: the queries, then the answers: 2 rounds. A product of two *shared* matrices runs two such calls
(``A0 B1`` and ``A1 B0``; ``A0 B0`` and ``A1 B1`` are local), in opposite directions and concurrently:
still 2 rounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .cost import Cost

POLY_DEGREE = 8192
QUERY_PRIMES = (59, 55, 49)
ANSWER_PRIMES = (59, 55)
#: measured SEAL serialisations (module docstring); ``measure_ciphertext_bytes`` re-measures them
QUERY_BYTES = 184_983
ANSWER_BYTES = 254_285
#: measured SEAL serialisations of one party's set-up keys (``measure_key_bytes``)
PUBLIC_KEY_BYTES = 493_782
GALOIS_KEYS_BYTES = 9_633_776
PACKING_GALOIS_ELEMENTS = tuple((POLY_DEGREE >> j) + 1 for j in range(13))
DOT_ROUNDS = 2
PACKINGS = ("interleave", "pack_lwes", "none")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _check(**sizes: int) -> None:
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


@lru_cache(maxsize=4096)
def subshape(m: int, k: int, n: int, packed: bool, N: int = POLY_DEGREE) -> tuple[int, int, int]:
    """The ``(d0, d1, d2)`` SPU cuts ``m x k x n`` into (module docstring, "Partition")."""
    best, best_cost = (1, 1, 1), math.inf
    for d0 in range(1, min(N, m) + 1):
        b0 = _cdiv(m, d0)
        d1 = 1
        while d1 <= k and d0 * d1 <= N:
            b1 = _cdiv(k, d1)
            d2 = min(n, N // d0 // d1)
            b2 = _cdiv(n, d2)
            sent = min(b0, b2) * b1
            answers = _cdiv(b0 * b2, d1)
            automorphisms = _cdiv(m * n, N) * d1 if packed else 0
            cost = (sent + answers) * 1000.0 + automorphisms + b0 * b1 * b2 / 10.0
            if cost <= best_cost:
                best, best_cost = (d0, d1, d2), cost
            d1 = d1 * 2 if packed else d1 + 1
    return best


@dataclass(frozen=True)
class DotPlan:
    """How SPU runs one ``m x k x n`` product (``batch`` independent ones of that shape for a batched
    dot): the partition, the packing, which side is encrypted, and the ciphertexts each way."""

    m: int
    k: int
    n: int
    batch: int
    sub: tuple[int, int, int]
    packing: str
    encrypt_left: bool
    queries: int
    answers: int

    @property
    def query_bytes(self) -> int:
        return self.queries * QUERY_BYTES

    @property
    def answer_bytes(self) -> int:
        if self.packing != "none":
            return self.answers * ANSWER_BYTES
        return self.answers * unpacked_answer_bytes(self.sub[0] * self.sub[2])

    @property
    def bytes(self) -> int:
        return self.query_bytes + self.answer_bytes

    @property
    def label(self) -> str:
        """As SPU's log prints it: ``batch@m x k x n => d0 x d1 x d2``."""
        return f"{self.batch}@{self.m}x{self.k}x{self.n} => {'x'.join(map(str, self.sub))}"


def unpacked_answer_bytes(useful: int) -> int:
    """An unpacked answer: its second polynomial (half an answer) plus ``useful`` kept coefficients of the
    first, each two residues at the answer's measured bytes per word."""
    per_word = ANSWER_BYTES / (2 * POLY_DEGREE * len(ANSWER_PRIMES))
    return int(round(ANSWER_BYTES / 2 + useful * len(ANSWER_PRIMES) * per_word))


@lru_cache(maxsize=4096)
def plan(m: int, k: int, n: int, batch: int = 1, N: int = POLY_DEGREE) -> DotPlan:
    """SPU's plan for ``batch`` products ``(m x k) @ (k x n)`` (module docstring).

    A batched dot (``batch > 1``, SPU's ``BatchDotOLE``) always packs by interleaving, across the
    batch: ``ceil(batch b0 b2 / d1)`` answers."""
    _check(m=m, k=k, n=n, batch=batch)
    sub = subshape(m, k, n, True, N)
    b = [_cdiv(x, d) for x, d in zip((m, k, n), sub)]
    if batch > 1:
        packing = "interleave"
    elif b[0] * b[2] <= 1:
        packing = "none"
    else:
        packing = "interleave" if sub[1] < m * n else "pack_lwes"
    if packing == "none":
        sub = subshape(m, k, n, False, N)
        b = [_cdiv(x, d) for x, d in zip((m, k, n), sub)]
    left, right = b[0] * b[1], b[1] * b[2]
    encrypt_left = left <= right
    queries = batch * min(left, right)
    if packing == "interleave":
        answers = _cdiv(batch * b[0] * b[2], sub[1])
    elif packing == "pack_lwes":
        answers = _cdiv(m * n, N)
    else:
        answers = b[0] * b[2]
    return DotPlan(m, k, n, batch, sub, packing, encrypt_left, queries, answers)


def dot(m: int, k: int, n: int, left_owner: str = "client", batch: int = 1) -> Cost:
    """ONE call: the owner of the encrypted side sends the queries, the other party the answers.
    ``left_owner`` says who holds A ("client" or "server"); 2 rounds."""
    if left_owner not in ("client", "server"):
        raise ValueError(f"left_owner must be 'client' or 'server', got {left_owner!r}")
    p = plan(m, k, n, batch)
    sender = left_owner if p.encrypt_left else ("server" if left_owner == "client" else "client")
    q, a = p.query_bytes, p.answer_bytes
    c2s, s2c = (q, a) if sender == "client" else (a, q)
    return Cost(rounds=DOT_ROUNDS, bytes_client_to_server=c2s, bytes_server_to_client=s2c)


def shared_product(m: int, k: int, n: int, batch: int = 1) -> Cost:
    """``A @ B`` with both secret-shared: two calls (``A0 B1``, ``A1 B0``) in opposite directions, run
    concurrently (2 rounds). No truncation here."""
    one, other = dot(m, k, n, "client", batch), dot(m, k, n, "server", batch)
    return Cost(rounds=DOT_ROUNDS,
                bytes_client_to_server=one.bytes_client_to_server + other.bytes_client_to_server,
                bytes_server_to_client=one.bytes_server_to_client + other.bytes_server_to_client)


def plaintext_weights_product(m: int, k: int, n: int, batch: int = 1) -> Cost:
    """``X @ W`` with X secret-shared and W the server's plaintext: the server's share times W is local,
    the client's share times W is one call (the client owns the left side). No truncation here."""
    return dot(m, k, n, "client", batch)


def setup_bytes() -> Cost:
    """The one-off key exchange (module docstring): both directions, 1 round (the two sends cross)."""
    each = PUBLIC_KEY_BYTES + GALOIS_KEYS_BYTES
    return Cost(rounds=1, bytes_client_to_server=each, bytes_server_to_client=each)


def _seal_context():
    import tenseal.sealapi as seal

    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.BFV)
    parms.set_poly_modulus_degree(POLY_DEGREE)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(POLY_DEGREE, list(QUERY_PRIMES) + [55]))
    parms.set_plain_modulus(seal.PlainModulus.Batching(POLY_DEGREE, 20))
    return seal, seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.NONE)


def _saved_size(obj, path: str) -> int:
    import os

    obj.save(path)
    return os.path.getsize(path)


def measure_key_bytes() -> dict[str, int]:
    """Serialise one party's public key (SPU sends the full key) and its seeded Galois keys for the
    packing automorphisms with SEAL (zstd): ``{"public_key": ..., "galois_keys": ...}``."""
    import os
    import tempfile

    seal, context = _seal_context()
    keygen = seal.KeyGenerator(context)
    pk = seal.PublicKey()
    keygen.create_public_key(pk)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "key")
        return {"public_key": _saved_size(pk, path),
                "galois_keys": _saved_size(keygen.create_galois_keys(list(PACKING_GALOIS_ELEMENTS)), path)}


def measure_ciphertext_bytes(samples: int = 16, seed: int = 0) -> dict[str, float]:
    """Serialise fresh ciphertexts with SEAL (tenseal.sealapi, its default zstd compression) at the
    parameters above and return their mean sizes: ``{"query": ..., "answer": ...}``.

    A query is a seeded symmetric encryption over {59, 55, 49}; an answer the same ciphertext, unseeded
    and switched down one prime to {59, 55}."""
    import os
    import tempfile

    import numpy as np

    seal, context = _seal_context()
    keygen = seal.KeyGenerator(context)
    encryptor = seal.Encryptor(context, keygen.secret_key())
    encoder, evaluator = seal.BatchEncoder(context), seal.Evaluator(context)
    rng = np.random.default_rng(seed)
    sizes = {"query": [], "answer": []}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ct")
        for _ in range(samples):
            pt = seal.Plaintext()
            encoder.encode([int(v) for v in rng.integers(0, 1 << 16, POLY_DEGREE)], pt)
            sizes["query"].append(_saved_size(encryptor.encrypt_symmetric(pt), path))
            ct = seal.Ciphertext()
            encryptor.encrypt_symmetric(pt, ct)
            evaluator.mod_switch_to_next_inplace(ct)
            sizes["answer"].append(_saved_size(ct, path))
    return {k: sum(v) / len(v) for k, v in sizes.items()}
