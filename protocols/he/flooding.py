"""Circuit privacy of the server's HE answers: re-randomise, switch down, flood the noise.

An answer the server sends back is ``A B + R`` (masked, ``protocols/he/matmul.py``) but its NOISE is a
function of the server's weights: after a plaintext product the noise is ``v p`` for the weights' plaintext
``p``, and without re-randomisation the second polynomial is ``sum p_i c1_i``, linear in the weights with
coefficients the client knows. The client decrypts, so it sees both. ``conceal`` (every HE backend,
``protocols/he/interface.py``) closes this as Cheetah does (Huang et al., USENIX Security'22, Sec. 4.1:
"switch down, then flood"), in three steps, all on the server:

1. **re-randomise**: add a fresh PUBLIC-key encryption of zero -- the second polynomial becomes uniform
   given everything the client knows (RLWE); one encryption and one addition, counted;
2. **switch down** to ``params.response_primes`` primes (``q'``): the weights' noise ``V`` shrinks by the
   dropped primes ``q / q'``, plus SEAL's rounding, at most ``(N + 1) / 2`` with a ternary secret;
3. **flood**: add ``e`` uniform in ``[-2^b, 2^b)`` to every coefficient of the first polynomial (in each
   prime of the serialized answer; ``protocols/he/wire.py``), drawn from the server's private generator. The
   decryption noise becomes ``v' + e``, within statistical distance ``N |v'| / 2^(b+1) <= 2^-LAMBDA`` per
   answer of ``e`` alone: a distribution the simulator draws from the public parameters.

**The bound.** ``b`` must be a function of the PUBLIC parameters only (the server has no secret key to
measure anything). Worst cases, per coefficient, in units of the phase ``c0 + c1 s - (q/t) m``:

* a fresh symmetric encryption: ``|v| <= 20`` (SEAL's clipped Gaussian, ``6 sigma = 19.2``, + 1/2 rounding
  of ``q m / t``); a key switch (rotation) adds at most ``ks = (K - 1) N 20 q_max / p + N`` (``p`` SEAL's
  special prime); a product by a plaintext with coefficients in ``[0, t)``: ``|v p| <= N t |v|`` -- of a
  ROTATED input too (the diagonal method rotates, then multiplies): ``N t (20 + ks)`` (:func:`circuit_bits`);
* an answer sums at most ``PRODUCTS_PER_N2 * N^2`` such products (every privmoe circuit: a matmul sums
  ``n_in`` inputs times at most ``N / 2`` diagonals; NEXUS folds at most ``N`` of those): ``N^3 t (20 + ks)``;
* at most ``N`` more key switches after the products (BSGS's giant steps, rotate-and-add trees): ``N ks``;
  the public-key encryption of zero ``20 (2 N + 1)``; the mask ``1/2``;
* switching down divides by the dropped primes (each ``>= 2^(bits - 1)``) and adds ``(N + 1) / 2``.

``b = ceil(LAMBDA + log2 N + log2 V')`` with ``V'`` that bound after switching down. Decryption stays
correct while ``V' + 2^b < q' / (2 t)``; :func:`plan` reports the bits left and :func:`check` refuses
parameters where they are not positive. At privmoe's parameters (``docs/protocols/matmul.md``):

* N = 8192, moduli {59, 55, 49} + 55, t 20 bits, answers at {59, 55}: ``V' < 2^35``, ``b = 88``, 3 of
  the 91 bits of decryption capacity left -- flooding FITS (this is why the HE default is N = 8192); answers
  at {59} alone would fit unflooded (25 bits left) but not flooded: flooding costs the second prime;
* N = 4096, {36, 36} + 37 (109 bits, SEAL's 128-bit maximum): the worst case does not even fit the
  unflooded budget (``V ~ 2^60`` against ``q / 2t ~ 2^50``) and no prime can be dropped: REFUSED.

The simulator (``simulators/he.py``) has no noise: its ``conceal`` counts the same operations and checks
nothing (its toy sizes claim no security).

Scope: the default bound covers circuits of plaintext products, rotations and additions. A ciphertext x
ciphertext product (``multiply``) grows the noise by about ``2 N t`` times the operands' noise; a protocol
that answers one passes its own worst case as ``pre_bits`` (``protocols/he/encrypted_linear.noise_bits``)
to :func:`plan` and to ``conceal``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from functionalities.errors import PublicParameterError

#: the statistical security parameter: an answer's noise is within 2^-LAMBDA of the flooding's distribution
LAMBDA = 40
#: |v| of a fresh encryption (SEAL's noise_max_deviation 6 * 3.2 = 19.2, + 1/2 for rounding q m / t)
FRESH = 20.0
#: an answer sums at most this many times N^2 plaintext products of fresh or key-switched ciphertexts
PRODUCTS_PER_N2 = 1
#: the bits a view item of the flooded noise keeps (``observed``): the top VIEW_BITS of e + 2^b
VIEW_BITS = 62


class FloodingError(PublicParameterError):
    """The parameters leave no room to flood the answers' noise at statistical parameter LAMBDA."""


@dataclass(frozen=True)
class FloodPlan:
    """What flooding costs and leaves at one ``HEParams`` (all from public parameters; bits are log2).

    ``bound``: log2 of V', the worst-case answer noise after switching down, before flooding; ``bits``: b,
    the flooding width (``e`` uniform in ``[-2^b, 2^b)``); ``capacity``: log2 (q' / 2t), the noise a
    correct decryption tolerates; ``left``: bits between ``V' + 2^b`` and that capacity (> 0: fits);
    ``unflooded_left``: the same without flooding (both also capped by the room before switching down:
    the full modulus' capacity minus the pre-switch noise)."""

    poly_degree: int
    lam: int
    bound: float
    bits: int
    capacity: float
    left: float
    unflooded_left: float

    @property
    def fits(self) -> bool:
        return self.left > 0


def _log2_sum(*logs: float) -> float:
    top = max(logs)
    return top + math.log2(sum(2.0 ** (x - top) for x in logs))


def key_switch_bits(params) -> float:
    """log2 of the noise one key switch (a rotation, a relinearisation) adds at ``params``:
    ``(K - 1) N 20 q_max / p + N`` (K primes, ``p`` SEAL's special prime)."""
    data = list(params.coeff_bits[:-1]) if len(params.coeff_bits) > 1 else list(params.coeff_bits)
    special = params.coeff_bits[-1] if len(params.coeff_bits) > 1 else params.coeff_bits[0]
    log_n = math.log2(params.poly_degree)
    return _log2_sum(math.log2(max(1, len(params.coeff_bits) - 1)) + log_n + math.log2(FRESH)
                     + max(data) - (special - 1), log_n)


def circuit_bits(params, log_products: float) -> float:
    """log2 of the worst-case noise of ``2^log_products`` plaintext products summed, each of a fresh
    ciphertext rotated once (noise ``FRESH`` + one key switch) times a plaintext with coefficients in
    ``[0, t)``: ``products N t (20 + ks)``; a protocol passes this as ``pre_bits`` when it knows how many
    products one of its answers sums (e.g. ``protocols/he/packing.products_per_answer``)."""
    return (log_products + math.log2(params.poly_degree) + params.plain_bits
            + _log2_sum(math.log2(FRESH), key_switch_bits(params)))


def plan(params, lam: int = LAMBDA, pre_bits: float | None = None) -> FloodPlan:
    """The flooding plan of ``params`` (``HEParams``) at statistical parameter ``lam`` (module docstring).
    ``pre_bits``: log2 of the answer's worst-case noise before switching down, when the protocol's circuit
    is not the plaintext one this module bounds (e.g. ``protocols/he/encrypted_linear.noise_bits`` for a
    ciphertext x ciphertext product); default: the plaintext-circuit bound."""
    n = params.poly_degree
    t_bits = params.plain_bits
    data = list(params.coeff_bits[:-1]) if len(params.coeff_bits) > 1 else list(params.coeff_bits)
    special = params.coeff_bits[-1] if len(params.coeff_bits) > 1 else params.coeff_bits[0]
    keep = params.response_primes or len(data)
    log_n = math.log2(n)
    products = circuit_bits(params, math.log2(PRODUCTS_PER_N2) + 2 * log_n)             # N^2 products
    key_switch = log_n + key_switch_bits(params)                                          # N key switches
    public_zero = math.log2(FRESH * (2 * n + 1))
    pre = _log2_sum(products, key_switch, public_zero, -1.0) if pre_bits is None else _log2_sum(pre_bits,
                                                                                                  public_zero)
    dropped = sum(b - 1 for b in data[keep:])
    bound = _log2_sum(pre - dropped, math.log2((n + 1) / 2))
    bits = math.ceil(lam + log_n + bound)
    capacity = sum(b - 1 for b in data[:keep]) - t_bits - 1
    # the answer must also decrypt BEFORE switching down (a switch does not repair an overflowed noise)
    before = sum(b - 1 for b in data) - t_bits - 1 - pre
    left = min(capacity - _log2_sum(bound, bits), before)
    return FloodPlan(n, lam, bound, bits, capacity, left, min(capacity - bound, before))


def check(params, lam: int = LAMBDA, pre_bits: float | None = None) -> FloodPlan:
    """:func:`plan`, raising :class:`FloodingError` when flooding does not fit (naming the numbers)."""
    p = plan(params, lam, pre_bits)
    if not p.fits:
        raise FloodingError(
            f"no room to flood the answers' noise at N={params.poly_degree}, coefficient bits {params.coeff_bits}, "
            f"answers at {params.response_primes or 'all'} primes, t {params.plain_bits} bits: worst-case noise "
            f"2^{p.bound:.1f} + flooding 2^{p.bits} (lambda = {lam}) against a decryption capacity of "
            f"2^{p.capacity:.1f}. Circuit privacy needs N >= 8192 (docs/protocols/matmul.md, 'Circuit privacy').")
    return p


def stream(rng) -> np.random.Generator:
    """The flooding's own generator, split off the server's private generator ``rng`` by ONE draw: SEAL
    (which floods) and the simulator (which has no noise to flood) then draw the same masks from ``rng``."""
    return np.random.default_rng(int(rng.integers(0, 2 ** 63, dtype=np.int64)))


def draw(rng: np.random.Generator, n: int, bits: int) -> list[int]:
    """``n`` integers uniform in ``[-2^bits, 2^bits)`` (Python ints: ``bits`` may exceed 63)."""
    words = -(-(bits + 1) // 64)
    raw = rng.integers(0, 2 ** 64, (words, n), dtype=np.uint64)
    out = [0] * n
    for w in range(words):
        col = raw[w].tolist()
        out = [(o << 64) | c for o, c in zip(out, col)]
    extra = 64 * words - (bits + 1)
    return [(o >> extra) - (1 << bits) for o in out]


def add_to_poly(coeffs: np.ndarray, noise: list[int], primes: list[int]) -> np.ndarray:
    """``coeffs`` (primes x N, uint64: one polynomial in RNS form, prime by prime) plus the integers
    ``noise`` (length N), reduced mod each prime. -> a new array."""
    out = np.empty_like(coeffs)
    for j, q in enumerate(primes):
        e = np.array([x % q for x in noise], dtype=object)
        out[j] = ((coeffs[j].astype(object) + e) % q).astype(np.uint64)
    return out


def observed(noise: list[int], bits: int) -> np.ndarray:
    """A view item of an answer's decryption noise (phase minus message, centred; length N): the top
    ``VIEW_BITS`` bits of ``noise + 2^bits``, clipped to ``[0, 2^VIEW_BITS)`` (int64). Flooded with width
    ``bits``, the values are uniform on ``VIEW_BITS`` bits up to ``2^-LAMBDA``; an unflooded answer's noise
    sits in a handful of values around ``2^(VIEW_BITS - 1)``."""
    shift = max(0, bits + 1 - VIEW_BITS)
    top = (1 << min(VIEW_BITS, bits + 1)) - 1
    return np.array([min(top, max(0, (x + (1 << bits)) >> shift)) for x in noise], dtype=np.int64)


def negacyclic(c: np.ndarray, s: np.ndarray, q: int) -> list[int]:
    """``c`` (N, uint64 < q < 2^60) times the ternary ``s`` (N, int64) in Z_q[x]/(x^N + 1), exactly: four
    15-bit limbs of ``c``, each convolved with ``s`` by a float FFT (every product term is below 2^28, far
    inside a double's 53 bits), recombined mod q. -> N Python ints."""
    n = len(c)
    fs = np.fft.rfft(s.astype(np.float64), 2 * n)
    total = np.zeros(n, dtype=object)
    for k in range(4):
        limb = ((c >> np.uint64(15 * k)) & np.uint64(0x7FFF)).astype(np.float64)
        conv = np.rint(np.fft.irfft(np.fft.rfft(limb, 2 * n) * fs, 2 * n)).astype(np.int64)
        total = total + (conv[:n] - conv[n:2 * n]).astype(object) * (1 << (15 * k))
    return [int(x) % q for x in total]


def phase_noise(coeffs: np.ndarray, s: np.ndarray, primes: list[int], message: list[int], t: int) -> list[int]:
    """Decryption noise of a size-2 ciphertext: ``coeffs`` (2, primes, N) its polynomials in RNS form, ``s``
    the ternary secret (N,), ``message`` the decrypted plaintext's N coefficients mod t. -> per coefficient
    ``c0 + c1 s - round(q m / t)`` mod q = prod(primes), centred (Python ints)."""
    q = 1
    for p in primes:
        q *= p
    total = [0] * len(s)
    for j, p in enumerate(primes):
        rest = q // p
        lift = rest * pow(rest, -1, p)
        prod = negacyclic(coeffs[1][j], s, p)
        c0 = coeffs[0][j].tolist()
        total = [(acc + ((a + b) % p) * lift) for acc, a, b in zip(total, c0, prod)]
    out = []
    for x, m in zip(total, message):
        v = (x - (q * int(m) + t // 2) // t) % q
        out.append(v - q if v > q // 2 else v)
    return out
