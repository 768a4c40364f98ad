"""Claims U1 (one framework) and U2 (equivalent forms) of docs/CLAIMS.md Part II, and the regenerated §2.2 table.

U1.<rule>: SymPy proves that the rule's update is one (proximal / Newton / momentum) gradient step of its objective
(theory.updates), and autograd checks the same numerically: the recurrent form's one-token update equals
S_0 - lr * grad f(S_0) computed by torch.autograd (or, for the closed-form rules, the objective's gradient vanishes
at the rule's answer).
U2.<rule>_forms: the parallel and chunked forms agree with the recurrent ground truth in float64, values AND
gradients, within round-off-derived tolerances; U2.lowprec_forms: every form in float32/bfloat16 against the
float64 ground truth, relative RMS. U2.parallel_symbolic / U2.chunk_symbolic: the matrix forms derived in SymPy.
"""

from __future__ import annotations

from functools import partial

import torch
from hypothesis import strategies as st

from assocmem import checks, numbers
from assocmem.registry import Claim, Section, register, register_section, steps
from impl.numerics.device import resolve_dtype, unit_roundoff
from impl.rules.checks import compare_forms, conditioning
from impl.rules.data import draw_inputs
from impl.rules.registry import RULES
from theory import updates as th

MODULES = ("theory.updates", "impl.rules.registry", "impl.rules.data", "impl.rules.checks", "impl.rules.inputs",
           "impl.numerics.chunking", "impl.numerics.solves", "impl.rules.linear_attention", "impl.rules.decay", "impl.rules.deltanet",
           "impl.rules.gated_deltanet", "impl.rules.longhorn", "impl.rules.ttt", "impl.rules.rls", "impl.rules.softmax_attention")

# Keys that make b in [0, 2] a contraction: delta-type rules get unit (or zero / repeated unit) keys only.
UNIT_KEY_RULES = ("deltanet", "gated_deltanet", "ttt")
GATED = ("retnet", "gla", "gated_deltanet")



def key_modes(rule):
    return ("unit", "zero", "repeated") if rule in UNIT_KEY_RULES else ("unit", "gauss", "zero", "repeated")


def shapes_strategy(rule, max_T=20, max_d=6):
    return st.fixed_dictionaries({
        "B": st.integers(1, 2), "H": st.integers(1, 2), "T": st.integers(1, max_T),
        "d_k": st.integers(1, max_d), "d_v": st.integers(1, 5), "chunk": st.integers(1, 8),
        "keys": st.sampled_from(key_modes(rule)), "extras": st.sampled_from(("mid", "low", "high", "ends")),
        "state": st.booleans(), "scale": st.floats(0.1, 2.0),
    })


# ------------------------------------------------------------------------------- tolerances (U2) -----------
C_ROUNDOFF = 16.0
"""Safety constant on the round-off bound. Each output/state entry is an n-term sum of products (n = T + d_k + d_v:
the sequence, the key and the value contractions), so each form carries at most gamma_n ~ n u relative error of
the magnitudes involved (Higham Thm 3.5); forward substitution adds |dL| <= gamma_n |L| (Higham Thm 8.5). Two forms
each carrying such an error give a factor 2; another 2 covers the products of bounded factors (|b k k^T| <= 2,
gates <= 1); the last factor 4 is margin for gradients with respect to gates near 0, whose terms cancel.
``cond`` is impl.rules.checks.conditioning (log-gate gradients, RLS solves). Measured over ~650 random float64
draws of all rules (not the test draws): worst ratio error / (n u cond mag) 0.93 for values of ungated rules, 3.1
for Gated DeltaNet values (T = 16), 6.1 for RetNet gate gradients with gates near 0."""


def n_terms(rule, params, kind):
    n = params["T"] + params["d_k"] + params["d_v"]
    if kind == "grad" and rule in GATED:
        n += params["T"] ** 2  # a log-gate's gradient sums over the O(T^2) pairs (t, j) that it decays
    return n


def tolerance(rule, params, kind, u, cond, mag):
    return C_ROUNDOFF * n_terms(rule, params, kind) * u * cond * max(1.0, mag)


def run_forms(rule, params, seed, *, device="cpu", dtype="float64", forms=None):
    """All forms of ``rule`` against its recurrent form, values and gradients, float64 round-off tolerance."""
    dt = resolve_dtype(dtype)
    u = unit_roundoff(dt)
    rep = compare_forms(RULES[rule], params, seed, device=device, dtype=dtype, forms=forms)
    cond = conditioning(RULES[rule], params, seed)
    worst, notes = 0.0, []
    for form, e in rep.items():
        for kind in ("value", "grad"):
            tol = tolerance(rule, params, kind, u, cond[kind], e[f"{kind}_mag"])
            ratio = e[f"{kind}_err"] / tol
            worst = max(worst, ratio if e[f"{kind}_finite"] else float("inf"))
            notes.append(f"{form} {kind}: tol {tol:.3g}{'' if ratio <= 1 else ' EXCEEDED'}")
    # the errors themselves are round-off, which changes with the order of summation: only tolerances are printed
    return checks.identity(f"U2.{rule}_forms", params, seed, worst, 1.0,
                           note="error as a multiple of the round-off tolerance; " + "; ".join(notes), **{f"cond_{k}": v for k, v in cond.items()})


def _reset_each_chunk(form, *args, chunk_size, initial_state=None, output_final_state=False, **kw):
    """A deliberately wrong chunked form: every chunk starts again from the initial state (no state passing)."""
    T = args[0].shape[2]
    outs, final = [], None
    for lo in range(0, T, chunk_size):
        sl = slice(lo, lo + chunk_size)
        o, final = form(*(a[:, :, sl] for a in args), initial_state=initial_state, output_final_state=True, **kw)
        outs.append(o)
    return torch.cat(outs, dim=2), (final if output_final_state else None)


def mutant_forms(rule, params, seed, *, device="cpu", dtype="float64"):
    wrong = {"chunk_no_state_passing": partial(_reset_each_chunk, RULES[rule].forms["parallel"])}
    res = run_forms(rule, params, seed, device=device, dtype=dtype, forms=wrong)
    return res


POWER_FORMS = [{"B": 1, "H": 1, "T": 12, "d_k": 4, "d_v": 3, "chunk": 4, "keys": "unit", "extras": "mid",
                "state": True, "scale": 1.0}]
GRID_FORMS = [
    {"B": 2, "H": 2, "T": T, "d_k": d, "d_v": d, "chunk": c, "keys": keys, "extras": ex, "state": True, "scale": 0.5}
    for T, d, c, keys, ex in ((1, 3, 4, "unit", "mid"), (33, 7, 8, "unit", "high"), (50, 16, 16, "repeated", "low"),
                              (40, 5, 7, "zero", "ends"))
]

RULE_ROWS = [  # (registry name, layer, update, objective, step) -- the paper's §2.2 table (docs/CLAIMS.md U1)
    ("linear", "linear attention", "S_{t-1} + v k^T", "-<S k, v>", "gradient, lr 1"),
    ("retnet", "RetNet / decay (Mamba2: data-dependent g)", "g S_{t-1} + v k^T", "-<S k, v> + (1-g)/2 ||S||^2", "gradient with weight decay"),
    ("gla", "GLA (per-channel gate)", "S_{t-1} diag(a_t) + v k^T", "-<S k, v> + 1/2 sum_ij (1-a_j) S_ij^2", "gradient with weight decay"),
    ("deltanet", "DeltaNet", "S_{t-1}(I - b k k^T) + b v k^T", "1/2 ||S k - v||^2", "gradient, lr b"),
    ("gated_deltanet", "Gated DeltaNet", "a_t S_{t-1}(I - b k k^T) + b v k^T", "decay, then delta (forget before error)", "two gradient steps"),
    ("longhorn", "Longhorn / implicit", "delta rule with lr b/(1 + b ||k||^2)", "argmin ||S - S_{t-1}||^2 + b ||S k - v||^2", "closed-form proximal step"),
    ("ttt", "TTT-linear / Titans", "m = eta m - theta (S k - v) k^T; S = (1-alpha) S + m", "1/2 ||S k - v||^2 + alpha/2 ||S||^2", "momentum with weight decay"),
    ("rls", "RLS / MesaNet", "V^T K (K^T K + lam I)^{-1}", "sum_j ||S k_j - v_j||^2 + lam ||S||^2", "exact, recursive (Newton step)"),
    ("softmax", "softmax attention", "memory = all pairs", "argmin_o sum_j kappa(q, k_j) ||o - v_j||^2", "closed form (Nadaraya-Watson)"),
    ("deltaformer", "DeltaFormer", "delta rule in the kernel's feature space", "1/2 ||S phi(k) - v||^2", "gradient, lr b (in feature space)"),
]


# ------------------------------------------------------------------------------- U1 numerics -------------
def _S_grad(f, S):
    S = S.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(S).sum(), S)
    return g


def run_gradient_step(rule, params, seed, *, device="cpu", dtype="float64", wrong=False):
    """One-token (or, for RLS/softmax, T-token) update of the recurrent form against autograd on the objective.

    For the step rules: error = |S_1 - (S_0 - lr grad f(S_0))|; for the closed-form rules (Longhorn, RLS, softmax):
    error = |grad F(answer)|, which must vanish. Tolerance: C_ROUNDOFF n u cond (magnitude of the terms)."""
    r = RULES[rule]
    p = dict(params)
    if rule not in ("rls", "softmax"):
        p["T"] = 1
    p["state"] = rule not in ("rls", "softmax")
    args, kw = draw_inputs(r, p, seed, device=device, dtype=dtype)
    o, final = r.forms["recurrent"](*args, **kw, output_final_state=True)
    q, k, v = args[:3]
    u = unit_roundoff(resolve_dtype(dtype))
    n = p["T"] + p["d_k"] + p["d_v"]
    kv = lambda S: S @ k[:, :, 0, :, None]  # S k for the single token
    lin = lambda S: -(kv(S).squeeze(-1) * v[:, :, 0]).sum(-1)
    delta = lambda S: 0.5 * ((kv(S).squeeze(-1) - v[:, :, 0]) ** 2).sum(-1)
    cond = 1.0
    if rule in ("linear", "retnet", "gla", "deltanet", "gated_deltanet", "ttt"):
        S0 = kw["initial_state"][0] if rule == "ttt" else kw["initial_state"]
        lr_factor = 2.0 if wrong else 1.0  # mutant of linear / DeltaNet: the step taken with twice the learning rate
        if rule == "linear":
            expect = S0 - lr_factor * _S_grad(lin, S0)
        elif rule in ("retnet", "gla"):
            a = args[3] if args[3].dim() == 4 else args[3].unsqueeze(-1).expand_as(k)
            wd = lambda S: 0.5 * ((1 - a[:, :, 0, None, :]) * S**2).sum((-1, -2)) * (0.0 if wrong else 1.0)
            expect = S0 - _S_grad(lambda S: lin(S) + wd(S), S0)  # mutant: no weight-decay term
        elif rule == "deltanet":
            expect = S0 - lr_factor * args[3][:, :, 0, None, None] * _S_grad(delta, S0)
        elif rule == "gated_deltanet":
            g = args[4][:, :, 0, None, None]
            decayed = S0 - _S_grad(lambda S: 0.5 * (1 - g[..., 0, 0]) * (S**2).sum((-1, -2)), S0)
            at = S0 if wrong else decayed  # mutant: the error computed against the undecayed state
            expect = decayed - args[3][:, :, 0, None, None] * _S_grad(delta, at)
        else:  # ttt
            theta, eta, alpha = (x[:, :, 0, None, None] for x in args[3:6])
            m0 = kw["initial_state"][1] * (0.0 if wrong else 1.0)  # mutant: momentum forgotten
            m1 = eta * m0 - theta * _S_grad(delta, S0)
            expect = S0 - _S_grad(lambda S: 0.5 * alpha[..., 0, 0] * (S**2).sum((-1, -2)), S0) + m1
            final = final[0]
        err = float((final - expect).abs().max())
        mag = float(S0.abs().max() + v.abs().max() + 1)
    elif rule == "longhorn":
        S0, b = kw["initial_state"], args[3][:, :, 0, None, None]
        F = lambda X: ((X - S0) ** 2).sum((-1, -2)) + b[..., 0, 0] * 2 * delta(X)
        if wrong:  # mutant: the explicit delta step, lr b, in place of the proximal lr b / (1 + b ||k||^2)
            kt = k[:, :, 0, :, None]
            final = S0 - b * (S0 @ kt - v[:, :, 0, :, None]) @ kt.transpose(-1, -2)
        err = float(_S_grad(F, final).abs().max())
        mag = float((1 + b.max()) * (final.abs().max() + S0.abs().max() + v.abs().max()) * (1 + (k * k).sum(-1).max()))
    elif rule == "rls":
        lam = r.kwargs["lam"] * (0.5 if wrong else 1.0)  # mutant: the ridge term halved
        F = lambda X: ((X @ k.transpose(-1, -2) - v.transpose(-1, -2)) ** 2).sum((-1, -2)) + lam * (X**2).sum((-1, -2))
        err = float(_S_grad(F, final[0]).abs().max())
        R = k.transpose(-1, -2) @ k + lam * torch.eye(p["d_k"], dtype=k.dtype, device=k.device)
        cond = float(torch.linalg.cond(R).max())
        mag = float(final[0].abs().max() * R.abs().max() + (v.transpose(-1, -2) @ k).abs().max() + 1)
    elif rule == "softmax":
        s = kw["scale"] * (k @ q[:, :, -1, :, None]).squeeze(-1)  # scores of the last query
        w = torch.exp(s - s.max(-1, keepdim=True).values)
        if wrong:  # mutant: a constant kernel (the plain mean of the values)
            w = torch.ones_like(w)
        o_last = o[:, :, -1]
        F = lambda x: (w[..., None] * (x[:, :, None, :] - v) ** 2).sum((-1, -2))
        xg = o_last.detach().clone().requires_grad_(True)
        (gr,) = torch.autograd.grad(F(xg).sum(), xg)
        err = float(gr.abs().max())
        mag = float(2 * w.sum(-1).max() * (o_last.abs().max() + v.abs().max()))
    else:
        raise AssertionError(rule)
    tol = C_ROUNDOFF * n * u * cond * mag
    return checks.identity(f"U1.{rule}", params, seed, err / tol, 1.0,
                           note=f"|update - autograd step| (or |grad| at the closed form) against tolerance {tol:.3g}")


MUTANT_U1 = {
    "linear": "learning rate 2 instead of 1", "retnet": "weight-decay term dropped from the objective",
    "gla": "weight-decay term dropped from the objective", "deltanet": "learning rate 2b instead of b",
    "gated_deltanet": "error computed against the undecayed state", "longhorn": "explicit step with lr b (not b/(1+b|k|^2))",
    "ttt": "momentum forgotten", "rls": "ridge term halved in the objective", "softmax": "constant kernel (plain mean)",
}


def mutant_gradient_step(rule, params, seed, *, device="cpu", dtype="float64"):
    """The same check against a deliberately wrong formula (MUTANT_U1[rule])."""
    return run_gradient_step(rule, params, seed, device=device, dtype=dtype, wrong=True)


def _u1_strategy(rule):
    return st.fixed_dictionaries({
        "B": st.integers(1, 2), "H": st.integers(1, 2), "T": st.integers(1, 12), "d_k": st.integers(1, 6),
        "d_v": st.integers(1, 5), "keys": st.sampled_from(key_modes(rule)),
        "extras": st.sampled_from(("mid", "low", "high", "ends")), "scale": st.floats(0.1, 2.0),
    })


for _name, _layer, _update, _objective, _step in RULE_ROWS:
    if _name == "deltaformer":
        register(Claim(
            id="U1.deltaformer", title="DeltaFormer: the delta rule in feature space", tag="paper",
            ref="§2.2, Appendix B; §2.2.1", kind="symbolic",
            statement="The delta rule applied to features phi(k) (S_t = S_{t-1} - b_t (S_{t-1} phi(k_t) - v_t) phi(k_t)^T) "
                      "read out at phi(q) equals sum_j kappa(q, k_j) u_j with u_t = b_t (v_t - sum_{j<t} kappa(k_t, k_j) u_j), "
                      "kappa(x, y) = phi(x)^T phi(y): DeltaFormer's recursion (symbolic, T = 3, 2-dimensional features).",
            derivation=lambda: steps(th.derivation_deltaformer()), modules=MODULES,
        ))
        continue
    register(Claim(
        id=f"U1.{_name}", title=f"{_layer}: one optimiser step", tag="paper", ref="§2.2 table, Appendix B",
        statement=f"The {_layer} update S_t = {_update} is one step ({_step}) on the per-token objective {_objective}: "
                  "symbolically (theory/updates.py, explicit 2x2 symbol matrices) and with autograd in float64 "
                  "(update minus autograd step, or the objective's gradient at the closed form, within round-off).",
        kind="identity", derivation=partial(lambda n: steps(th.DERIVATIONS[n]()), _name),
        run=partial(run_gradient_step, _name), strategy=partial(_u1_strategy, _name),
        mutant=partial(mutant_gradient_step, _name), mutant_says=MUTANT_U1[_name],
        power_grid=[{"B": 1, "H": 1, "T": 4, "d_k": 3, "d_v": 2, "keys": "unit", "extras": "mid", "scale": 1.0}],
        grid=[{"B": 2, "H": 2, "T": 8, "d_k": d, "d_v": d, "keys": "unit", "extras": ex, "scale": 1.0}
              for d, ex in ((4, "mid"), (16, "high"))],
        convention="S in R^{d_v x d_k} maps keys to values, o = S q; scale explicit (default 1).",
        modules=MODULES,
    ))

for _name, *_ in RULE_ROWS:
    if _name == "deltaformer":
        continue
    register(Claim(
        id=f"U2.{_name}_forms", title=f"{RULES[_name].title}: recurrent, parallel and chunked forms agree",
        tag="suite", ref="docs/CLAIMS.md U2; flash-linear-attention naive/chunk semantics",
        statement=f"For {RULES[_name].title}, the parallel and chunked forms (any T, any chunk size, with initial state) "
                  "equal the recurrent ground truth in float64: outputs, final state and the gradients of a random "
                  "linear functional of both with respect to every input, within C n u cond max(1, |ref|), "
                  "n = T + d_k + d_v (+ T^2 for log-gate gradients).",
        kind="identity", run=partial(run_forms, _name), strategy=partial(shapes_strategy, _name),
        mutant=partial(mutant_forms, _name), mutant_says="chunked form without state passing between chunks",
        power_grid=POWER_FORMS, grid=[dict(p, keys=("unit" if p["keys"] == "gauss" else p["keys"])) for p in GRID_FORMS],
        quick_grid=GRID_FORMS[:1], convention="read after write; state [B, H, d_v, d_k]; gates multiplicative in (0, 1]",
        modules=MODULES,
    ))


# ------------------------------------------------------------------------------- U2 low precision --------
C_LOWPREC = 4.0
"""Same round-off model as C_ROUNDOFF, for the relative RMS error of a form in float32/bfloat16 against the float64
ground truth on the same (rounded) inputs. Measured: worst ratio rel_rms / (n u cond) over 300 random draws (all
rules, float32 and bfloat16, values and gradients) was 0.96 (float32 Gated DeltaNet values). The error is taken
relative to max(RMS of the reference, 1): a nightly run found a float32 DeltaNet gradient of 0.039 (T = 1, a zero
key) formed by cancellation of O(1) terms, whose error relative to the small result alone was 5x the tolerance."""


def run_lowprec(params, seed, *, device="cpu", dtype="float64"):
    rule, dt_name = params["rule"], params["dtype"]
    dt = resolve_dtype(dt_name)
    u = unit_roundoff(dt)
    rep = compare_forms(RULES[rule], params, seed, device=device, dtype=dt_name, reference_dtype=torch.float64,
                        forms=dict(RULES[rule].forms))
    cond = conditioning(RULES[rule], params, seed)
    worst, notes = 0.0, []
    for form, e in rep.items():
        for kind in ("value", "grad"):
            tol = C_LOWPREC * n_terms(rule, params, kind) * u * cond[kind]
            ratio = e[f"{kind}_rel_rms"] / tol if e[f"{kind}_finite"] else float("inf")
            worst = max(worst, ratio)
            notes.append(f"{form} {kind}: rel RMS tol {tol:.3g}{'' if ratio <= 1 else ' EXCEEDED'}")
    # stated as the power of ten at or above the ratio (its size depends on the CPU's kernel path; see notes);
    # the verdict, ratio <= 1, is unchanged by that rounding
    return checks.identity("U2.lowprec_forms", params, seed, numbers.decade_above(worst), 1.0,
                           note="worst relative RMS error as a multiple of its tolerance, rounded up to a power of "
                                "ten; " + "; ".join(notes))


def mutant_lowprec(params, seed, *, device="cpu", dtype="float64"):
    """Wrong: the chunked form without state passing, in the same low precision."""
    rule = params["rule"]
    dt = resolve_dtype(params["dtype"])
    wrong = {"chunk_no_state_passing": partial(_reset_each_chunk, RULES[rule].forms["parallel"])}
    rep = compare_forms(RULES[rule], params, seed, device=device, dtype=params["dtype"],
                        reference_dtype=torch.float64, forms=wrong)
    e = rep["chunk_no_state_passing"]
    tol = C_LOWPREC * n_terms(rule, params, "value") * unit_roundoff(dt) * conditioning(RULES[rule], params, seed)["value"]
    return checks.identity("U2.lowprec_forms", params, seed, e["value_rel_rms"] / tol, 1.0, note="mutant")


@st.composite
def _lowprec_strategy(draw):
    rule = draw(st.sampled_from(sorted(RULES)))
    p = draw(shapes_strategy(rule, max_T=16))
    p.update(rule=rule, dtype=draw(st.sampled_from(("float32", "bfloat16"))))
    return p


register(Claim(
    id="U2.lowprec_forms", title="All forms in float32 and bfloat16", tag="suite", ref="docs/CLAIMS.md U2",
    statement="Every form of every rule run in float32 or bfloat16 matches the float64 recurrent ground truth on the "
              "same rounded inputs, values and gradients, to RMS error <= C n u cond max(RMS of the reference, 1) "
              "(u the dtype's unit round-off; bfloat16/float16 solves run in float32).",
    kind="approximation", run=run_lowprec, strategy=_lowprec_strategy, mutant=mutant_lowprec,
    mutant_says="chunked form without state passing",
    power_grid=[dict(POWER_FORMS[0], extras="high", rule=r, dtype=d) for r in ("deltanet", "gated_deltanet") for d in ("float32", "bfloat16")],
    grid=[dict(GRID_FORMS[1], rule=r, dtype=d) for r in sorted(RULES) for d in ("float32", "bfloat16")],
    quick_grid=[dict(GRID_FORMS[1], rule="deltanet", dtype="bfloat16")], modules=MODULES,
    notes="The departure is the worst ratio of a form's RMS error to its tolerance, rounded up to a power of ten "
          "(0.1: at most a tenth of the tolerance). Float32 and bfloat16 round-off depends on the "
          "order of summation, which the CPU's kernel path chooses: the unrounded ratio moved by up to 20 % between "
          "code paths (DeltaNet float32: 0.065 with MKL's default path, 0.078 with MKL_CBWR=COMPATIBLE), so more "
          "digits would describe the machine, not the forms. The verdict (ratio <= 1) is the same before and after "
          "the rounding, 1 being a power of ten.",
))

register(Claim(
    id="U2.parallel_symbolic", title="Parallel (matrix) forms, derived", tag="suite", ref="docs/CLAIMS.md U2",
    statement="For T = 3 tokens with symbol entries (d_k = 2, d_v = 1) the recurrent outputs equal (Q K^T . M) V (linear), "
              "(Q K^T . G) V (decay), (Q K^T . M)(I + diag(b)(K K^T . M^-))^{-1} diag(b) V (DeltaNet) and the gated "
              "version with G (Gated DeltaNet), identically.",
    kind="symbolic", derivation=lambda: steps(th.derivation_parallel_forms()), modules=MODULES,
))
register(Claim(
    id="U2.chunk_symbolic", title="Chunked (WY/UT) form, derived", tag="suite", ref="docs/CLAIMS.md U2",
    statement="The chunked DeltaNet with the UT transform T_c = (I + tril(diag(b) K_c K_c^T, -1))^{-1} diag(b), chunk size "
              "2 on T = 3 tokens (T not a multiple of the chunk), equals the recurrence identically (symbol entries).",
    kind="symbolic", derivation=lambda: steps(th.derivation_chunk_form()), modules=MODULES,
))


# ------------------------------------------------------------------------------- the §2.2 table ----------
def render_update_table(verdicts):
    lines = ["| layer | update S_t = | objective (per token) | step | U1 (symbolic + autograd) | U2 (forms agree) |",
             "|---|---|---|---|---|---|"]
    for name, layer, update, objective, step in RULE_ROWS:
        u1 = verdicts.get(f"U1.{name}", ("not run", ""))[0]
        u2 = verdicts.get(f"U2.{name}_forms", ("not run", ""))[0] if name != "deltaformer" else "see D1"
        esc = lambda x: x.replace("|", "\\|")  # a pipe inside a table cell (even in code) must be escaped
        lines.append(f"| {layer} | `{esc(update)}` | `{esc(objective)}` | {step} | {u1} | {u2} |")
    lines.append("")
    lines.append("Regenerated from the claims registry (assocmem/claims/updates.py). Symbolic proofs use explicit 2x2 "
                 "symbol matrices (softmax: N = 3 pairs; RLS: N = 2 pairs and a generic symmetric inverse).")
    return "\n".join(lines)


register_section(Section(id="U1.table", group="U1", title="The unified update table (paper §2.2)",
                         render=render_update_table))
