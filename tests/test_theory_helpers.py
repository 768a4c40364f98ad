"""theory/ helpers that no claim's derivation reaches in-process (the CLI's `check` runs them in a subprocess):
every engine value against sympy.stats, and every step of the linear memory's Wick derivation."""

import sympy as sp

from theory import moments, snr_linear


def test_moment_engines_agree_with_sympy_stats():
    checks = moments.cross_checks()
    assert len(checks) >= 15
    for what, engine, reference in checks:
        assert sp.simplify(sp.sympify(engine) - sp.sympify(reference)) == 0, what


def test_linear_noise_energy_derivation_holds():
    for dk in (1, 3):
        steps = snr_linear.derivation_noise_energy(dk)
        assert len(steps) == 3
        for says, lhs, rhs in steps:
            assert sp.simplify(sp.sympify(lhs) - sp.sympify(rhs)) == 0, says


def test_finiteness_conditions_name_the_divergences():
    from theory import kernels as tk

    want = {("linear", "probe_averaged"): ("d_v > 2", "d_k > 2"), ("relu", "probe_averaged"): ("d_v > 2", "d_k > 2"),
            ("poly", "probe_averaged"): ("d_v > 2", "d_k > 2p"), ("exp", "probe_averaged"): ("d_v > 2", "1 - 2a > 0"),
            ("rbf", "probe_averaged"): ("d_v > 2",), ("exp", "ratio_of_expectations"): ("tau > 4",)}
    for kernel in ("linear", "relu", "poly", "exp", "rbf"):
        for conv in ("conditional", "probe_averaged", "ratio_of_expectations", "typical"):
            text = tk.finiteness_condition(kernel, conv)
            need = want.get((kernel, conv), ())
            assert all(n in text for n in need) and bool(text) == bool(need), (kernel, conv, text)


def test_double_factorial_counts_the_pairings():
    """(2p - 1)!! is the number of ways to split 2p items into p pairs (Wick's theorem's term count), counted here by
    brute force."""
    def pairings(items):
        if not items:
            return 1
        return sum(pairings([x for x in items[1:] if x != y]) for y in items[1:])

    for p in range(0, 6):
        assert moments.double_factorial_odd(p) == pairings(list(range(2 * p))), p
    assert moments.double_factorial_odd(3) == 15


def test_linear_finiteness_condition():
    assert snr_linear.finiteness_condition("probe_averaged") == "d_k > 2 and d_v > 2 (E[1/chi^2_d] = 1/(d-2) needs d > 2)"
    for conv in ("conditional", "typical", "ratio_of_expectations"):
        assert snr_linear.finiteness_condition(conv) == ""


def test_noncentrality_from_the_conditional_snr():
    """delta^2 rho = d_v: the target's noncentrality delta = sqrt(d_v / rho) (C10)."""
    from theory import recall

    delta = recall.delta_of_rho()
    assert sp.simplify(delta**2 * recall.rho - recall.d_v) == 0 and delta.is_positive


def test_convention_ordering_differences_are_positive_not_only_equal():
    """C3's ordering steps write each difference as an expression in x = d_k - 2 > 0, y = d_v - 2 > 0: the identity
    is checked with the claim; here the other half, that SymPy itself finds each right-hand side positive for
    N >= 2 (N = n + 1 with n a positive integer) from the symbols' assumptions alone."""
    n = sp.Symbol("n", integer=True, positive=True)
    steps = snr_linear.derivation_ordering()
    assert len(steps) == 2
    for says, lhs, rhs in steps:
        assert sp.simplify(lhs - rhs) == 0, says
        assert rhs.subs(snr_linear.N, n + 1).is_positive is True, says
        assert rhs.subs(snr_linear.N, 1) == 0  # one stored pair: no crosstalk, the conventions coincide


def test_the_sphere_derivation_checks_the_second_and_fourth_moments():
    """The sphere derivation's moment steps are E[t^2] and E[t^4] of t = x^T y for unit x, y in R^d (the m = 1, 2 of
    its docstring), pinned here to the closed forms 1/d and 3/(d(d+2)) (t^2 ~ Beta(1/2, (d-1)/2)): a derivation that
    checked another true moment instead would still hold, so which moments it checks is asserted."""
    from theory import kernels as tk

    dims = (3, 5)
    steps = tk.derivation_sphere(dims=dims, order=2)
    moments = [(says, sp.nsimplify(lhs)) for says, lhs, rhs in steps if "E[t^" in says]
    expected = [v for d in dims for v in (sp.Rational(1, d), sp.Rational(3, d * (d + 2)))]
    assert [m for _, m in moments] == expected, moments


def test_an_unknown_activation_is_refused_listing_the_known_ones():
    """theory.ffn.activation refuses a name it has no form for with a message that lists every known activation and
    repeats the name given (the CLI passes it on to the user)."""
    import pytest

    from theory import ffn

    with pytest.raises(ValueError) as e:
        ffn.activation("swish", sp.Symbol("x"))
    assert "'swish'" in str(e.value) and all(a in str(e.value) for a in ffn.ACTIVATIONS)
    assert ffn.activation("relu", sp.Symbol("x")) == sp.Max(0, sp.Symbol("x"))
