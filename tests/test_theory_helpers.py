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
