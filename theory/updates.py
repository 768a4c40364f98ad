"""The unified update framework (paper §2.2, Appendix B; docs/CLAIMS.md U1-U3), derived in SymPy.

Every rule of the U1 table is given as (objective, update) and proved to be one (proximal / Newton / momentum)
gradient step of its objective. General-dimension matrix calculus is impractical in SymPy, so the proofs use
explicit small matrices with SYMBOL entries (d_v = d_k = 2 unless a step says otherwise; softmax uses N = 3 pairs,
RLS N = 2 pairs and the recursion with a generic symmetric 2x2 inverse). Each ``derivation_*`` returns a list of
``(says, lhs, rhs)`` steps that must hold identically (``assocmem check``). The gradient of a scalar f(S) is the
matrix of partial derivatives df/dS_ij, computed entry by entry with ``sp.diff``.

Orientation (docs/CLAIMS.md): S in R^{d_v x d_k} maps keys to values, o = S q.
"""

from __future__ import annotations

import sympy as sp

D_V, D_K = 2, 2


def mat(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def vec(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"{name}_{i + 1}", real=True))


def grad(f: sp.Expr, S: sp.Matrix) -> sp.Matrix:
    """df/dS entry by entry (the Frobenius gradient)."""
    return S.applyfunc(lambda s: sp.diff(f, s))


def fro2(A: sp.Matrix) -> sp.Expr:
    return sum(a**2 for a in A)


S = mat("S", D_V, D_K)  # S_{t-1}
k = vec("k", D_K)
v = vec("v", D_V)
q = vec("q", D_K)
b = sp.Symbol("b", nonnegative=True)  # learning rate (DeltaNet's beta)
g = sp.Symbol("g", positive=True)  # scalar decay gate a_t in (0, 1]
I_K = sp.eye(D_K)


def objective_linear(Sm=S):
    """Linear attention's per-token objective: -<S k, v>."""
    return -(Sm * k).dot(v)


def objective_delta(Sm=S):
    """The regression (delta) objective: 1/2 ||S k - v||^2."""
    return fro2(Sm * k - v) / 2


# ----------------------------------------------------------------------------------------- U1 per rule ----
def derivation_linear():
    step = S - grad(objective_linear(), S)
    return [("grad of -<S k, v> is -v k^T", grad(objective_linear(), S), -v * k.T),
            ("one gradient step, lr 1: S - grad = S + v k^T (linear attention)", step, S + v * k.T)]


def derivation_decay():
    f = objective_linear() + (1 - g) / 2 * fro2(S)
    return [("grad of -<S k, v> + (1-g)/2 ||S||^2 is -v k^T + (1-g) S", grad(f, S), -v * k.T + (1 - g) * S),
            ("one gradient step, lr 1 (weight decay 1-g): g S + v k^T (RetNet, Mamba2 with data-dependent g)",
             S - grad(f, S), g * S + v * k.T)]


def derivation_gla():
    a = vec("a", D_K)
    f = objective_linear() + sum((1 - a[j]) / 2 * S[i, j] ** 2 for i in range(D_V) for j in range(D_K))
    return [("one gradient step, lr 1, on -<S k, v> + 1/2 sum_ij (1 - a_j) S_ij^2 is S diag(a) + v k^T (GLA)",
             S - grad(f, S), S * sp.diag(*a) + v * k.T)]


def derivation_deltanet():
    return [("grad of 1/2 ||S k - v||^2 is (S k - v) k^T", grad(objective_delta(), S), (S * k - v) * k.T),
            ("one gradient step, lr b: S (I - b k k^T) + b v k^T (DeltaNet)",
             S - b * grad(objective_delta(), S), S * (I_K - b * k * k.T) + b * v * k.T)]


def derivation_gated_deltanet():
    decayed = S - grad((1 - g) / 2 * fro2(S), S)  # forget: a gradient step on the weight-decay term
    Sp = mat("P", D_V, D_K)  # the decayed state as a fresh symbol, then substituted
    delta_at = Sp - b * grad(objective_delta(Sp), Sp)
    composed = delta_at.subs(dict(zip(list(Sp), list(decayed))))
    return [("forget first: a gradient step, lr 1, on (1-g)/2 ||S||^2 gives g S", decayed, g * S),
            ("then the delta step on the decayed state gives g S (I - b k k^T) + b v k^T (Gated DeltaNet)",
             composed, g * S * (I_K - b * k * k.T) + b * v * k.T),
            ("the error is computed against the decayed state: g S k - v, not S k - v",
             composed - g * S, -b * (g * S * k - v) * k.T)]


def derivation_longhorn():
    """Proximal step: S_t = argmin ||S' - S||^2 + b ||S' k - v||^2 (the data term weighted by b)."""
    X = mat("X", D_V, D_K)
    F = fro2(X - S) + b * fro2(X * k - v)
    kk = (k.T * k)[0, 0]
    lr = b / (1 + b * kk)
    closed = S - lr * (S * k - v) * k.T
    sm_inverse = I_K - b * k * k.T / (1 + b * kk)
    hess = sp.hessian(F, list(X))
    return [("Sherman-Morrison: (I + b k k^T)(I - b k k^T / (1 + b ||k||^2)) = I", (I_K + b * k * k.T) * sm_inverse, I_K),
            ("stationarity: (S + b v k^T)(I + b k k^T)^{-1} equals the delta step with lr b / (1 + b ||k||^2)",
             (S + b * v * k.T) * sm_inverse, closed),
            ("the gradient of the proximal objective vanishes at the closed form",
             grad(F, X).subs(dict(zip(list(X), list(closed)))), sp.zeros(D_V, D_K)),
            ("the Hessian is 2 (I + b k k^T) on every row of S: positive definite for b >= 0, so the stationary point is the argmin",
             hess, 2 * sp.kronecker_product(sp.eye(D_V), I_K + b * k * k.T))]


def derivation_ttt():
    m = mat("m", D_V, D_K)
    theta, eta, alpha = sp.symbols("theta eta alpha", nonnegative=True)
    m_new = eta * m - theta * grad(objective_delta(), S)
    S_new = S - grad(alpha / 2 * fro2(S), S) + m_new
    return [("momentum: m_t = eta m - theta grad 1/2||S k - v||^2 = eta m - theta (S k - v) k^T", m_new, eta * m - theta * (S * k - v) * k.T),
            ("weight decay (grad of alpha/2 ||S||^2) plus momentum step: S_t = (1 - alpha) S + m_t (Titans)", S_new, (1 - alpha) * S + m_new),
            ("eta = alpha = 0 reduces to the delta rule with lr theta",
             S_new.subs({eta: 0, alpha: 0}), S * (I_K - theta * k * k.T) + theta * v * k.T)]


def derivation_rls():
    lam = sp.Symbol("lambda", positive=True)
    K = mat("K", 2, D_K)  # two stored keys as rows
    V = mat("V", 2, D_V)
    X = mat("X", D_V, D_K)
    F = sum(fro2(X * K[j, :].T - V[j, :].T) for j in range(2)) + lam * fro2(X)
    R = K.T * K + lam * I_K
    Sstar = V.T * K * R.inv()
    zero_grad = sp.simplify(grad(F, X).subs(dict(zip(list(X), list(Sstar)))))
    # the recursion: generic symmetric R_{t-1} and sufficient statistic A_{t-1} = S_{t-1} R_{t-1}
    r11, r12, r22 = sp.symbols("r11 r12 r22", real=True)
    Rp = sp.Matrix([[r11, r12], [r12, r22]])
    A = mat("A", D_V, D_K)
    P = Rp.inv()
    S_prev = A * P
    P_new = P - P * k * k.T * P / (1 + (k.T * P * k)[0, 0])
    S_new = S_prev + (v - S_prev * k) * k.T * P_new
    return [("the batch ridge solution S* = V^T K (K^T K + lam I)^{-1} zeroes the gradient of sum_j ||S k_j - v_j||^2 + lam ||S||^2 (N = 2)",
             zero_grad, sp.zeros(D_V, D_K)),
            ("Sherman-Morrison: P_t = P - P k k^T P / (1 + k^T P k) is (R + k k^T)^{-1}", sp.simplify(P_new * (Rp + k * k.T)), I_K),
            ("the recursion S_t = S_{t-1} + (v - S_{t-1} k) k^T P_t gives the new batch solution (A + v k^T)(R + k k^T)^{-1}",
             sp.simplify(S_new - (A + v * k.T) * P_new), sp.zeros(D_V, D_K)),
            ("it is one Newton step on the cumulative objective: S_{t-1} - grad_t(S_{t-1}) H_t^{-1}, where grad_t(S_{t-1}) = (S_{t-1} k - v) k^T "
             "(S_{t-1} minimises the previous objective) and H_t = R + k k^T",
             sp.simplify(S_prev - (S_prev * k - v) * k.T * P_new - S_new), sp.zeros(D_V, D_K))]


def derivation_softmax():
    n = 3
    o = vec("o", D_V)
    kap = sp.symbols("kappa1:4", positive=True)
    vs = [vec(f"v{j + 1}", D_V) for j in range(n)]
    F = sum(kap[j] * fro2(o - vs[j]) for j in range(n))
    nw = sum((kap[j] * vs[j] for j in range(n)), sp.zeros(D_V, 1)) / sum(kap)
    hess = sp.hessian(F, list(o))
    qs, ks = vec("q", D_K), [vec(f"k{j + 1}", D_K) for j in range(n)]
    scores = [(qs.T * kj)[0, 0] for kj in ks]
    softmax_out = sum((sp.exp(scores[j]) * vs[j] for j in range(n)), sp.zeros(D_V, 1)) / sum(sp.exp(s) for s in scores)
    return [("the Nadaraya-Watson estimate sum_j kappa_j v_j / sum_j kappa_j zeroes the gradient of sum_j kappa_j ||o - v_j||^2 (N = 3)",
             grad(F, o).subs(dict(zip(list(o), list(nw)))).applyfunc(sp.simplify), sp.zeros(D_V, 1)),
            ("the Hessian 2 (sum_j kappa_j) I is positive definite: the minimiser", hess, 2 * sum(kap) * sp.eye(D_V)),
            ("with kappa_j = exp(q^T k_j) the minimiser is softmax attention's output",
             nw.subs({kap[j]: sp.exp(scores[j]) for j in range(n)}), softmax_out)]


def derivation_deltaformer():
    """DeltaFormer: the delta rule on features phi(k) in R^m (m = 2 symbols per feature vector), kernel
    kappa(x, y) = phi(x)^T phi(y). Three tokens: the recurrent state's read-out equals the kernel recursion
    u_t = b_t (v_t - sum_{j<t} kappa(k_t, k_j) u_j), o = sum_j kappa(q, k_j) u_j."""
    T = 3
    phis = [vec(f"f{j + 1}", 2) for j in range(T)]
    vs = [vec(f"v{j + 1}", D_V) for j in range(T)]
    bs = sp.symbols("b1:4", nonnegative=True)
    pq = vec("fq", 2)
    Sm = sp.zeros(D_V, 2)
    for t in range(T):
        Sm = Sm - bs[t] * (Sm * phis[t] - vs[t]) * phis[t].T
    us = []
    for t in range(T):
        us.append(bs[t] * (vs[t] - sum((((phis[t].T * phis[j])[0, 0]) * us[j] for j in range(t)), sp.zeros(D_V, 1))))
    o_kernel = sum((((pq.T * phis[j])[0, 0]) * us[j] for j in range(T)), sp.zeros(D_V, 1))
    return [("delta rule in feature space, read out at phi(q), equals the kernel form sum_j kappa(q, k_j) u_j (T = 3)",
             (Sm * pq).applyfunc(sp.expand), o_kernel.applyfunc(sp.expand))]


# ----------------------------------------------------------------------------------- U2 parallel forms ----
T_SYM = 3  # tokens in the symbolic parallel-form checks


def _sequence(d_k=2, d_v=1, T=T_SYM):
    Q = mat("q", T, d_k)
    K = mat("k", T, d_k)
    V = mat("v", T, d_v)
    bs = sp.Matrix(sp.symbols(f"b1:{T + 1}", nonnegative=True))
    gs = sp.Matrix(sp.symbols(f"g1:{T + 1}", positive=True))
    return Q, K, V, bs, gs


def recurrent_outputs(Q, K, V, bs=None, gs=None):
    """o_t = S_t q_t for S_t = g_t S_{t-1} (I - b_t k_t k_t^T) + b_t v_t k_t^T (b = None: linear write v k^T;
    g = None: no decay), S_0 = 0. Rows of the result are o_t^T."""
    T, d_k, d_v = Q.rows, Q.cols, V.cols
    St = sp.zeros(d_v, d_k)
    rows = []
    for t in range(T):
        kt, vt, qt = K[t, :].T, V[t, :].T, Q[t, :].T
        if gs is not None:
            St = gs[t] * St
        St = St + vt * kt.T if bs is None else St - bs[t] * (St * kt - vt) * kt.T
        rows.append((St * qt).T)
    return sp.Matrix.vstack(*rows)


def decay_matrix(gs, T):
    """G_ij = prod_{j < s <= i} g_s for j <= i, 0 above the diagonal."""
    return sp.Matrix(T, T, lambda i, j: sp.prod([gs[s] for s in range(j + 1, i + 1)]) if j <= i else 0)


def causal(T, strict=False):
    return sp.Matrix(T, T, lambda i, j: 1 if (j < i or (j == i and not strict)) else 0)


def derivation_parallel_forms():
    Q, K, V, bs, gs = _sequence()
    T = Q.rows
    M, Ms, G = causal(T), causal(T, strict=True), decay_matrix(gs, T)
    B = sp.diag(*bs)
    lin = Q * K.T
    delta_par = lin.multiply_elementwise(M) * (sp.eye(T) + B * (K * K.T).multiply_elementwise(Ms)).inv() * B * V
    gated_par = lin.multiply_elementwise(G) * (sp.eye(T) + B * (K * K.T).multiply_elementwise(G).multiply_elementwise(Ms)).inv() * B * V
    ex = lambda X: X.applyfunc(lambda e: sp.expand(sp.simplify(e)))
    return [("linear attention: recurrent outputs equal (Q K^T . M) V (T = 3, d_k = 2, d_v = 1)",
             ex(recurrent_outputs(Q, K, V)), ex(lin.multiply_elementwise(M) * V)),
            ("decay: recurrent outputs equal (Q K^T . G) V, G_ij = prod_{j<s<=i} g_s",
             ex(recurrent_outputs(Q, K, V, gs=gs)), ex(lin.multiply_elementwise(G) * V)),
            ("DeltaNet: recurrent outputs equal (Q K^T . M)(I + diag(b)(K K^T . M^-))^{-1} diag(b) V",
             ex(recurrent_outputs(Q, K, V, bs=bs)), ex(delta_par)),
            ("Gated DeltaNet: recurrent outputs equal (Q K^T . G)(I + diag(b)(K K^T . G . M^-))^{-1} diag(b) V",
             ex(recurrent_outputs(Q, K, V, bs=bs, gs=gs)), ex(gated_par))]


def derivation_chunk_form():
    """The WY/UT chunked DeltaNet with chunk size 2 on T = 3 tokens (chunks {1, 2} and {3}: T not a multiple of
    the chunk) equals the recurrence."""
    Q, K, V, bs, _ = _sequence()
    d_k, d_v = Q.cols, V.cols
    St = sp.zeros(d_v, d_k)
    rows = []
    for lo, hi in ((0, 2), (2, 3)):
        Kc, Vc, Qc = K[lo:hi, :], V[lo:hi, :], Q[lo:hi, :]
        C = hi - lo
        Bc = sp.diag(*bs[lo:hi])
        Tc = (sp.eye(C) + Bc * (Kc * Kc.T).multiply_elementwise(causal(C, strict=True))).inv() * Bc  # UT transform
        W, U0 = Tc * Kc, Tc * Vc
        U = U0 - W * St.T
        rows.append((Qc * Kc.T).multiply_elementwise(causal(C)) * U + Qc * St.T)
        St = St + U.T * Kc
    ex = lambda X: X.applyfunc(lambda e: sp.expand(sp.simplify(e)))
    return [("chunked (UT transform, C = 2, T = 3) DeltaNet outputs equal the recurrent ones",
             ex(sp.Matrix.vstack(*rows)), ex(recurrent_outputs(Q, K, V, bs=bs)))]


# ------------------------------------------------------------------------------------------------- U3 ------
def derivation_transition_eigenvalues():
    """d_k = 3 with symbol entries: A = I - b k k^T has eigenvalue 1 - b ||k||^2 along k and 1 on k's orthogonal
    complement (spanned here by two cross products), so det A = 1 - b ||k||^2; for a unit key the eigenvalue is
    1 - b (in [0, 1] iff b in [0, 1], negative for 1 < b <= 2, and -1 at b = 2: a reflection, A^2 = I)."""
    k3 = vec("k", 3)
    A = sp.eye(3) - b * k3 * k3.T
    kk = (k3.T * k3)[0, 0]
    e1 = sp.Matrix([1, 0, 0])
    e2 = sp.Matrix([0, 1, 0])
    x1, x2 = k3.cross(e1), k3.cross(e2)
    th = sp.Symbol("theta", real=True)
    unit = sp.Matrix([sp.cos(th), sp.sin(th)])
    R = sp.eye(2) - 2 * unit * unit.T
    return [("A k = (1 - b ||k||^2) k", A * k3, (1 - b * kk) * k3),
            ("A x = x for x orthogonal to k (x = k x e_1)", A * x1, x1),
            ("A x = x for x orthogonal to k (x = k x e_2)", A * x2, x2),
            ("det A = 1 - b ||k||^2 (the product of the eigenvalues)", A.det(), 1 - b * kk),
            ("unit key (d_k = 2, k = (cos t, sin t)), b = 2: A^2 = I, a reflection with eigenvalue -1 along k", R * R, sp.eye(2)),
            ("unit key, b = 2: A k = -k", R * unit, -unit)]


def derivation_overwrite():
    """A repeated unit key k (d_k = 2, k = (cos t, sin t)): after writing (k, v1) then (k, v2) the delta rule with
    b = 1 reads back v2 exactly; linear attention reads v1 + v2."""
    th = sp.Symbol("theta", real=True)
    unit = sp.Matrix([sp.cos(th), sp.sin(th)])
    v1, v2 = vec("v1", D_V), vec("v2", D_V)
    S1 = sp.zeros(D_V, 2) - (sp.zeros(D_V, 2) * unit - v1) * unit.T
    S2 = S1 - (S1 * unit - v2) * unit.T
    lin = v1 * unit.T + v2 * unit.T
    return [("delta rule, b = 1: S_2 k = v_2 (the old value is overwritten)", (S2 * unit).applyfunc(sp.simplify), v2),
            ("linear attention: S_2 k = v_1 + v_2 (a mixture)", (lin * unit).applyfunc(sp.simplify), v1 + v2)]


# ------------------------------------------------------------------------------------------------- U4 ------
d_sym = sp.Symbol("d_k", positive=True, integer=True)
dv_sym = sp.Symbol("d_v", positive=True, integer=True)
sigma = sp.Symbol("sigma", positive=True)
t_sym = sp.Symbol("t", positive=True)


def delta_msd():
    """Steady-state E||S - W||_F^2 of the delta rule with lr b on k ~ N(0, I/d_k), v = W k + sigma n."""
    return dv_sym * d_sym * b * sigma**2 / (2 - b * (d_sym + 2) / d_sym)


def rls_msd():
    """E||S_t - W||_F^2 of least squares (lam -> 0, the minimum-norm solution), sigma > 0, W with N(0, 1) entries:
    sigma^2 d_v d_k^2 / (t - d_k - 1) for t >= d_k + 2 (overdetermined), d_v (d_k - t) + sigma^2 d_v t d_k /
    (d_k - t - 1) for t <= d_k - 2 (underdetermined: the unseen part of W plus the fitted noise), infinite between
    (the inverse-Wishart mean diverges). See ``derivation_rls_msd``."""
    return sp.Piecewise((rls_msd_overdetermined(), t_sym >= d_sym + 2), (rls_msd_underdetermined(), t_sym <= d_sym - 2),
                        (sp.oo, True))


def rls_msd_overdetermined():
    """t >= d_k + 2: sigma^2 d_v tr E[(K^T K)^{-1}] = sigma^2 d_v d_k^2 / (t - d_k - 1)."""
    return sigma**2 * dv_sym * d_sym**2 / (t_sym - d_sym - 1)


def rls_msd_underdetermined():
    """t <= d_k - 2: d_v (d_k - t) + sigma^2 d_v t d_k / (d_k - t - 1)."""
    return dv_sym * (d_sym - t_sym) + sigma**2 * dv_sym * t_sym * d_sym / (d_sym - t_sym - 1)


def msd_symbol(time: str) -> sp.Symbol:
    """The left-hand side E||S_time - W||_F^2 as one symbol that prints as LaTeX (a plain name would be split at
    its '_' and '^' into garbled sub- and superscripts)."""
    return sp.Symbol(rf"\mathbb{{E}}\,\lVert S_{{{time}}} - W \rVert_F^2")


def derivation_rls_msd():
    """Least squares with K the t x d_k key matrix (rows k_j ~ N(0, I/d_k)) and V = K W^T + sigma N: the minimum-norm
    solution is S_t = V^T K^+, so S_t - W = -W (I - P) + sigma N^T (K^+)^T with P = K^+ K the projection onto the
    row space of K (rank min(t, d_k)), the two terms uncorrelated (N is independent with mean 0).
    - Unseen part: E||W (I - P)||^2 = d_v tr(I - P) = d_v (d_k - min(t, d_k)) for W with N(0, 1) entries.
    - Fitted noise: sigma^2 d_v tr E[K^+ (K^+)^T] = sigma^2 d_v tr E[(K^T K)^{-1}] (t >= d_k) or
      sigma^2 d_v tr E[(K K^T)^{-1}] (t <= d_k). With G = d_k K^T K ~ Wishart_{d_k}(t, I), resp. d_k K K^T ~
      Wishart_t(d_k, I), the inverse-Wishart mean E[G^{-1}] = I / (n - p - 1) (n degrees of freedom, dimension p;
      finite iff n >= p + 2; Mardia, Kent & Bibby 1979) gives the traces below."""
    trace_over = d_sym * d_sym / (t_sym - d_sym - 1)  # tr E[(K^T K)^{-1}] = d_k tr E[G^{-1}], G p = d_k, n = t
    trace_under = d_sym * t_sym / (d_sym - t_sym - 1)  # tr E[(K K^T)^{-1}] = d_k tr E[G^{-1}], G p = t, n = d_k
    return [("t >= d_k + 2: nothing unseen, the fitted noise is sigma^2 d_v d_k tr E[G^{-1}] with tr E[G^{-1}] = "
             "d_k / (t - d_k - 1)", sigma**2 * dv_sym * trace_over, rls_msd_overdetermined()),
            ("t <= d_k - 2: the unseen part d_v (d_k - t) plus the fitted noise sigma^2 d_v d_k t / (d_k - t - 1)",
             dv_sym * (d_sym - t_sym) + sigma**2 * dv_sym * trace_under, rls_msd_underdetermined()),
            ("large t: diminishing returns ~ sigma^2 d_v d_k^2 / t",
             sp.limit(rls_msd_overdetermined() * t_sym, t_sym, sp.oo), sigma**2 * dv_sym * d_sym**2),
            ("no noise: the underdetermined error is the unseen part alone, d_v (d_k - t)",
             rls_msd_underdetermined().subs(sigma, 0), dv_sym * (d_sym - t_sym))]


def linear_limit_variance():
    """t E||S_t / t - W/d_k||_F^2 averaged over W with N(0, 1) entries: d_v (d_k + 1)/d_k + sigma^2 d_v."""
    return dv_sym * (d_sym + 1) / d_sym + sigma**2 * dv_sym


def derivation_delta_msd():
    """Each row w of the error E = S - W obeys w_t = (I - b k k^T) w_{t-1} + b sigma n k (n ~ N(0, 1)), so
    C_t = E[w w^T] satisfies C_t = C - b(R C + C R) + b^2 E[k k^T C k k^T] + b^2 sigma^2 R with R = r I, r = 1/d_k,
    and by Isserlis E[k k^T C k k^T] = r^2 (2 C + tr(C) I). The isotropic fixed point C = c I:"""
    c, r = sp.symbols("c r", positive=True)
    d = d_sym
    fixed = sp.Eq(c, c - 2 * b * r * c + b**2 * r**2 * (2 * c + d * c) + b**2 * sigma**2 * r)
    sol = sp.solve(fixed, c)
    c_star = b * sigma**2 / (2 - b * r * (d + 2))
    msd = (dv_sym * d * c_star).subs(r, 1 / d)
    return [("the isotropic fixed point of the covariance recursion is c = b sigma^2 / (2 - b r (d_k + 2))",
             sol[0] if len(sol) == 1 else sp.nan, c_star),
            ("E||S - W||^2 = d_v tr C = d_v d_k c at r = 1/d_k", msd, delta_msd()),
            ("small steps: the neighbourhood shrinks linearly in b, d_v d_k b sigma^2 / 2 + O(b^2)",
             sp.limit(delta_msd() / b, b, 0), dv_sym * d * sigma**2 / 2)]


def derivation_linear_limit():
    """S_t / t = (1/t) sum_j v_j k_j^T has mean E[v k^T] = W R = W/d_k (not S* = W) and variance
    (1/t) E||v k^T - W R||^2, where by Isserlis E||W k k^T||^2 = r^2 (d_k + 2) ||W||^2 and E||n k^T||^2 = d_v d_k r."""
    r = 1 / d_sym
    W2 = dv_sym * d_sym  # E||W||_F^2 for N(0, 1) entries
    var = r**2 * (d_sym + 2) * W2 - r**2 * W2 + sigma**2 * dv_sym * d_sym * r
    return [("t Var(S_t / t) = E||W k k^T||^2 - ||W R||^2 + sigma^2 E||n k^T||^2 = d_v (d_k+1)/d_k + sigma^2 d_v",
             sp.simplify(var), linear_limit_variance()),
            ("the bias of the limit, ||W R - W||^2 = (1 - 1/d_k)^2 ||W||^2, is independent of t",
             sp.expand((1 - r) ** 2 * W2), sp.expand(dv_sym * d_sym * (1 - 1 / d_sym) ** 2))]


DERIVATIONS = {
    "linear": derivation_linear, "retnet": derivation_decay, "gla": derivation_gla, "deltanet": derivation_deltanet,
    "gated_deltanet": derivation_gated_deltanet, "longhorn": derivation_longhorn, "ttt": derivation_ttt,
    "rls": derivation_rls, "softmax": derivation_softmax, "deltaformer": derivation_deltaformer,
}
