#!/usr/bin/env python3
"""
ggdm dmath: generator/checker for every constant in ref/include/ggdm/dmath.h.

    python3 ref/tools/dmath_coeffs.py          # print all constants as C literals

Needs mpmath (pip install mpmath).  Nothing here is needed to build ggdm: the
header holds the rounded constants; this script documents where they come from
and re-derives them.

* bits of 2/pi: computed twice, from mpmath and from an independent Machin
  formula (pure Python integers), and asserted equal.
* splits of pi/2 and ln 2 into double/float parts.
* polynomial coefficients: a small Remez exchange in mpmath (minimax for the
  stated weight), then each coefficient rounded to nearest double (or float).
  The rounded coefficients are what the header uses; the script reports the
  max weighted error of the rounded polynomial as well.
"""
import sys
import mpmath as mp
from mpmath import mpf

mp.mp.dps = 60


# ---------------------------------------------------------------- rounding
def to_double(x):
    """round an mpf to nearest binary64 (returns a python float, exact)."""
    with mp.workprec(53):
        return float(mp.mpf(x))


def to_float(x):
    """round to nearest binary32 (returned as a python float holding the value)."""
    x = mp.mpf(x)
    if x == 0:
        return 0.0
    m, e = mp.frexp(x)               # x = m*2^e, 0.5 <= |m| < 1
    n = mp.nint(m * 2**24)           # round half even (nint is half-even)
    return float(mp.ldexp(n, e - 24))


def chex(v, suffix=""):
    return float.hex(v) + suffix


# ---------------------------------------------------------------- 2/pi
def pi_machin(bits):
    """floor(pi * 2^bits) (to within a few units), pure integer Machin formula."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(n):
        s, t, k, n2 = 0, one // n, 1, n * n
        sign = 1
        while t:
            s += sign * (t // k)
            t //= n2
            k += 2
            sign = -sign
        return s
    p = 16 * arctan_inv(5) - 4 * arctan_inv(239)
    return p >> guard


def two_over_pi_words(nwords):
    nbits = 32 * nwords
    # mpmath
    with mp.workprec(nbits + 128):
        a = int(mp.floor(2 / mp.pi * mp.mpf(2) ** nbits))
    # Machin: 2/pi * 2^nbits = 2^(nbits+1+P) / (pi*2^P)
    P = nbits + 128
    pm = pi_machin(P)
    b = (1 << (nbits + 1 + P)) // pm
    # pm may be a few units low -> b may be high by ~2^(nbits+1-P)*few: far below 1
    assert abs(a - b) <= 1 and (a >> 8) == (b >> 8), "2/pi mismatch"
    # check the low word too with more guard bits
    P2 = nbits + 256
    b2 = (1 << (nbits + 1 + P2)) // pi_machin(P2)
    assert b2 == a, "2/pi mismatch (extended)"
    words = [(a >> (32 * (nwords - 1 - k))) & 0xffffffff for k in range(nwords)]
    return words


# ---------------------------------------------------------------- Remez
def remez(f, basis, a, b, weight, ngrid=3000, iters=30, verbose=False):
    """minimise max |weight(x)*(f(x) - sum c_j basis_j(x))| on [a,b]."""
    a, b = mpf(a), mpf(b)
    n = len(basis)
    # initial reference: Chebyshev extrema (avoid exact zeros of the weight)
    ref = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * (i + mpf(0.5)) / (n + 1))
           for i in range(n + 1)]
    grid = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (ngrid - 1)) for i in range(ngrid)]
    fg = [f(x) for x in grid]
    wg = [weight(x) for x in grid]
    bg = [[phi(x) for phi in basis] for x in grid]
    best = None
    for it in range(iters):
        A = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for i, x in enumerate(ref):
            for j, phi in enumerate(basis):
                A[i, j] = phi(x)
            A[i, n] = (-1) ** i / weight(x)
            rhs[i] = f(x)
        sol = mp.lu_solve(A, rhs)
        c = [sol[j] for j in range(n)]
        E = abs(sol[n])
        err = [wg[k] * (fg[k] - mp.fsum(c[j] * bg[k][j] for j in range(n))) for k in range(ngrid)]
        m = max(abs(e) for e in err)
        if verbose:
            print("  remez it", it, float(E), float(m), file=sys.stderr)
        best = (c, m)
        if m <= E * (1 + mpf(10) ** -6):
            break
        # local extrema of err on the grid
        ext = []
        for k in range(ngrid):
            l = err[k - 1] if k > 0 else None
            r = err[k + 1] if k < ngrid - 1 else None
            e = err[k]
            if (l is None or abs(e) >= abs(l)) and (r is None or abs(e) >= abs(r)) and e != 0:
                ext.append((grid[k], e))
        # merge same-sign neighbours
        alt = []
        for x, e in ext:
            if alt and mp.sign(alt[-1][1]) == mp.sign(e):
                if abs(e) > abs(alt[-1][1]):
                    alt[-1] = (x, e)
            else:
                alt.append((x, e))
        # trim to n+1 keeping the largest
        while len(alt) > n + 1:
            if abs(alt[0][1]) < abs(alt[-1][1]):
                alt.pop(0)
            else:
                alt.pop()
        if len(alt) < n + 1:
            break
        ref = [x for x, e in alt]
    return best


def max_err(f, coeffs, basis, a, b, weight, ngrid=6000):
    a, b = mpf(a), mpf(b)
    m = 0
    for i in range(ngrid):
        x = a + (b - a) * i / (ngrid - 1)
        w = weight(x)
        if w == 0:
            continue
        e = abs(w * (f(x) - mp.fsum(mpf(c) * phi(x) for c, phi in zip(coeffs, basis))))
        m = max(m, e)
    return m


def mono(k):
    return lambda x: x ** k


def shifted(k, c):
    c = mpf(c)
    return lambda x: (x - c) ** k


def log2e(v):
    return float(mp.log(v, 2)) if v else -999.0


def emit(name, vals, suffix=""):
    print("/* %s */" % name)
    for i, v in enumerate(vals):
        print("    %s%d = %s%s" % (name, i, float.hex(v), suffix))


def main():
    out = []
    pi = mp.pi
    # ------------------------------------------------------------ 2/pi table
    W = two_over_pi_words(37)
    print("/* 2/pi, 32 bits per word, most significant first (T[0] = 0 pad) */")
    print("    0x00000000u,")
    for i in range(0, len(W), 6):
        print("    " + " ".join("0x%08xu," % w for w in W[i:i + 6]))

    # ------------------------------------------------------------ pi/2 splits
    p1 = to_double(pi / 2)
    p2 = to_double(pi / 2 - p1)
    p3 = to_double(pi / 2 - p1 - p2)
    print("/* pi/2 = P1 + P2 + P3 */")
    print("  P1 =", p1.hex(), " P2 =", p2.hex(), " P3 =", p3.hex())
    print("  2/pi (double) =", to_double(2 / pi).hex())
    print("  2*pi hi/lo =", to_double(2 * pi).hex(), to_double(2 * pi - to_double(2 * pi)).hex())
    # ln2 splits
    ln2 = mp.log(2)
    # double log: ln2_hi has 42 significant bits (k needs 11 bits)
    with mp.workprec(42):
        l2hi = float(mp.mpf(ln2))
    l2lo = to_double(ln2 - l2hi)
    print("  log: LN2_HI =", l2hi.hex(), " LN2_LO =", l2lo.hex())
    L2H = to_double(ln2)
    print("  exp(double): LN2 =", L2H.hex(), " LN2_LO =", to_double(ln2 - L2H).hex(),
          " LOG2E =", to_double(1 / ln2).hex())
    # expf: C1 with 15 significant bits (k needs 8 bits)
    with mp.workprec(15):
        c1 = float(mp.mpf(ln2))
    # truncate instead of round so that C1 <= ln2 (either works; we use nearest)
    c2 = to_float(ln2 - c1)
    print("  expf: C1 =", c1.hex(), " C2 =", c2.hex(), " LOG2E =", to_float(1 / ln2).hex())

    # ------------------------------------------------------------ expf poly
    # exp(r) = 1 + r + r^2/2 + r^3*(Q0 + Q1 r + ... + Q4 r^4), |r| <= 0.3467,
    # minimax for the relative error of exp(r)
    R = mpf('0.3467')
    basis = [mono(k + 3) for k in range(5)]
    f = lambda r: mp.exp(r) - 1 - r - r * r / 2
    wfun = lambda r: 1 / mp.exp(r)
    c, m = remez(f, basis, -R, R, wfun)
    cf = [to_float(v) for v in c]
    print("/* expf q(r), minimax err %.3g = 2^%.2f; rounded %.3g */" %
          (m, log2e(m), max_err(f, cf, basis, -R, R, wfun)))
    emit("EXPF_Q", cf, "f")

    # ------------------------------------------------------------ exp (double, internal)
    print("/* exp kernel (double): Taylor 1/j!, j = 0..11 */")
    emit("EXPD_T", [to_double(1 / mp.factorial(j)) for j in range(12)])

    # ------------------------------------------------------------ log R(z)
    smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
    Z = smax ** 2 * (1 + mpf(2) ** -20)
    def Rz(z):
        if z == 0:
            return mpf(0)
        s = mp.sqrt(z)
        return (mp.log((1 + s) / (1 - s)) - 2 * s) / s
    basis = [mono(k + 1) for k in range(7)]
    c, m = remez(Rz, basis, mpf(10) ** -30, Z, lambda z: mpf(1))
    cd = [to_double(v) for v in c]
    print("/* log R(z) = z*(L0 + L1 z + ... + L6 z^6), abs err %.3g = 2^%.2f; rounded %.3g */" %
          (m, log2e(m), max_err(Rz, cd, basis, 0, Z, lambda z: mpf(1))))
    emit("LOG_L", cd)

    # ------------------------------------------------------------ sin/cos kernels
    A = pi / 4 * (1 + mpf(2) ** -20)
    Z = A * A
    def S(z):
        a = mp.sqrt(z)
        return mp.sin(a) - a
    basis = [lambda z, k=k: z ** (k + 1) * mp.sqrt(z) for k in range(7)]  # a^3, a^5, ...
    wsin = lambda z: 1 / mp.sin(mp.sqrt(z)) if z > 0 else mpf(0)
    c, m = remez(S, basis, mpf(10) ** -30, Z, wsin)
    cd = [to_double(v) for v in c]
    s0lo = to_double(c[0] - cd[0])       # S0 is used as a double-double
    ce = [mpf(cd[0]) + s0lo] + cd[1:]
    print("/* sin(a) = a + a^3*(S0 + S1 z + ... + S6 z^6), rel err %.3g = 2^%.2f; rounded (S0 hi+lo) %.3g */" %
          (m, log2e(m), max_err(S, ce, basis, mpf(10) ** -30, Z, wsin)))
    emit("SIN_S", cd)
    print("    SIN_S0_LO =", s0lo.hex())
    def C(z):
        return mp.cos(mp.sqrt(z)) - 1 + z / 2
    basis = [mono(k + 2) for k in range(6)]
    wcos = lambda z: 1 / mp.cos(mp.sqrt(z))
    c, m = remez(C, basis, mpf(10) ** -30, Z, wcos)
    cd = [to_double(v) for v in c]
    print("/* cos(a) = 1 - z/2 + z^2*(C0 + C1 z + ... + C5 z^5), rel err %.3g = 2^%.2f; rounded %.3g */" %
          (m, log2e(m), max_err(C, cd, basis, 0, Z, wcos)))
    emit("COS_C", cd)

    # ------------------------------------------------------------ erf
    erf_pieces()

    # ------------------------------------------------------------ tanh
    T0 = mpf('0.25')
    def Tf(x):
        return mp.tanh(x) - x
    n = 6
    basis = [lambda x, k=k: x ** (2 * k + 3) for k in range(n)]
    wt = lambda x: 1 / mp.tanh(x) if x > 0 else mpf(0)
    c, m = remez(Tf, basis, mpf(10) ** -30, T0, wt)
    cd = [to_double(v) for v in c]
    print("/* tanh(x) = x + x^3*(T0 + T1 z + ... ), z=x^2, |x|<0.25, rel err %.3g = 2^%.2f; rounded %.3g */" %
          (m, log2e(m), max_err(Tf, cd, basis, mpf(10) ** -30, T0, wt)))
    emit("TANH_T", cd)


ERF_SMALL = mpf('1.25')
ERF_PIECES = [('1.25', '2.5'), ('2.5', '3.9375')]
ERF_NSMALL = 10
ERF_DEG = 12


def erf_pieces():
    # small: erf(x) = x*(E0 + E1 z + ...), z = x^2, relative error
    basis = [lambda x, k=k: x ** (2 * k + 1) for k in range(ERF_NSMALL)]
    w = lambda x: 1 / mp.erf(x) if x > 0 else mpf(0)
    c, m = remez(mp.erf, basis, mpf(10) ** -30, ERF_SMALL, w)
    cd = [to_double(v) for v in c]
    print("/* erf |x|<%s: x*P(x^2), %d coeffs, rel err %.3g = 2^%.2f; rounded %.3g */" %
          (ERF_SMALL, len(c), m, log2e(m), max_err(mp.erf, cd, basis, mpf(10) ** -30, ERF_SMALL, w)))
    emit("ERF_P", cd)
    # pieces: erf(x) = sum c_k (x - mid)^k, absolute error
    for (a, b) in ERF_PIECES:
        a, b = mpf(a), mpf(b)
        mid = to_double((a + b) / 2)
        basis = [shifted(k, mid) for k in range(ERF_DEG + 1)]
        c, m = remez(mp.erf, basis, a, b, lambda x: mpf(1))
        cd = [to_double(v) for v in c]
        print("/* erf on [%s,%s]: sum c_k (x-%s)^k, abs err %.3g = 2^%.2f; rounded %.3g */" %
              (a, b, mid, m, log2e(m), max_err(mp.erf, cd, basis, a, b, lambda x: mpf(1))))
        emit("ERF_%s" % str(a).replace('.', '_'), cd)


if __name__ == "__main__":
    main()
