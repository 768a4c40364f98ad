"""Mutation testing of impl/ and theory/ as an evidence job (``assocmem evidence run mutation``).

A test suite is as good as the bugs it catches. This job makes single-point changes to the code (operator swaps,
constant changes, dropped or swapped arguments, negated conditions, changed names and keys), runs the tests against
each, and writes ``reports/MUTATION.md``: the score, every survivor with its diff, and every equivalent mutant with
the reason it is equivalent.

Tool: mutmut 3 (optional extra ``mutation``; configured in pyproject.toml, ``[tool.mutmut]``). Chosen over
cosmic-ray because it derives the test selection itself: one stats run of the CI test selection records which tests
call each function, and a mutant is then tested by exactly those tests (no hand-kept module-to-test map to go stale
while impl/ changes), in workers forked from one server process that has already imported torch, SymPy and the
tests (a mutant costs its tests, not a fresh interpreter), ``--max-children`` of them at once. Neither tool samples
at random by itself; both list their mutants, so the sample is drawn here: every mutant mutmut generates is
shuffled by ``random.Random(seed)`` and the first ``SAMPLE`` taken (rejection sampling: uniform over the eligible
population). mutmut 3 mutates function and method bodies; module-level constants and decorated functions (other
than static/class methods) are outside its reach and so outside the population, which the report states.

A fresh sample per commit: the seed is not fixed but derived from the code under test and the tests that judge it
(``sample_seed``: SHA-256 over every file of impl/, theory/, tests/ and assocmem/ that the run copies, this file
excepted), so any change to the code or the tests draws a new sample that the tests were not written against, and a
rerun on unchanged code draws the same one. This module is left out so that the measuring instrument itself (the
``EQUIVALENT`` list, the report's wording) can be corrected without redrawing. ``--seed`` other than the default
overrides it (for ad-hoc trials; the record says so). The score carries an exact (Clopper-Pearson) 95 % interval, and
the record keeps the scores of the previous runs (``history``; carried over from the record it replaces, a rerun of
the same sample replacing its own entry), which reports/MUTATION.md and the report print beside the current score.

Eligible population: every mutant except message-text mutants, i.e. mutants that change only the wording or case of
a string literal containing whitespace (error messages, notes, the prose of derivation steps): killing them would
mean asserting on prose. String literals without whitespace (kernel names, conventions, dictionary keys, einsum
specifications) are code and stay in. The count of excluded message-text mutants is reported.

Outcomes: *killed* (a test failed, errored or timed out), *survived* (every selected test passed), *no tests* (no
test calls the function: a survivor), *equivalent* (a survivor listed in ``EQUIVALENT`` with the reason no test can
tell it from the original). Score = killed / (sampled - equivalent).

Tests that read the source instead of calling it (``STATIC_TESTS``: the lint of flag names) cannot be selected by
mutmut, whose copy holds every mutant's text side by side. So after mutmut, each non-equivalent survivor is applied
alone to a clean copy of the sampled tree and those tests are run on it (``static_pass``); a failure kills it, and
the record says which mutants were killed this way (outcome ``killed by a static test``).

The run works on a scratch copy of the working tree (tracked and untracked, not ignored, files) under
``.cache/mutation/``, named by the code hash and kept until the run finishes (``run_mutation``: an interrupted run is
resumed by running the job again on the same code), so the checkout is never touched and can be edited while a run
goes on; the result cache is per test (``tests/conftest.py``), since all
of mutmut's mutants of a file share one source text and so one cache key.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path

from assocmem import evidence

ROOT = Path(__file__).resolve().parent.parent
SEED = 20250525  # the fixed seed of the runs before samples were drawn per commit (see LEGACY_NOTE)
SAMPLE = 120
SEEDED_DIRS = ("impl", "theory", "tests", "assocmem")
# What the record depends on (its freshness): exactly the files the sample is drawn for, so that the measuring
# instrument (this file: the equivalence judgements, the wording) can be corrected without staling the record.
CODE_STATE = "impl/, theory/, tests/, assocmem/ (assocmem/mutation.py excepted)"
LEGACY_NOTE = ("fixed seed 20250525 (before samples were drawn per commit): the tests had been improved against this "
               "sample's survivors, so its score is optimistic")
SAMPLE_QUICK = 4
PROGRESS_EVERY_S = 30.0  # how often a running attempt records its time so far (see run_mutation)
TARGET = 0.95
REPORT = ROOT / "reports" / "MUTATION.md"
# Lints of the source, run on each survivor applied alone (see static_pass); pyproject.toml keeps them out of
# mutmut's selection.
STATIC_TESTS = ("tests/test_flag_names_static.py",)
STATIC_KILL = "killed by a static test"

# Equivalent mutants: (module, the original line, the mutated line, why no test can tell them apart). Matched on the
# stripped changed lines of a survivor's diff, so the list survives renumbering of mutmut's mutant names.
EQUIVALENT: list[tuple[str, str, str, str]] = [
    ("theory.deltaformer", "inner = list(range(j + 1, t))", "inner = list(range(t))",
     "hop_paths is defined for strictly lower-triangular B (D1): every extra chain through a node <= j contains an "
     "entry B[a, b] with a <= b, which is 0, so every added term vanishes and the sum is unchanged."),
    ("theory.kernels", 'x = sp.Symbol("x", positive=True)', 'x = sp.Symbol("X", positive=True)',
     "x is a dummy variable that sp.solve eliminates; its printed name never reaches a returned expression and no "
     "other symbol of the function is named X."),
    ("theory.kernels", '("the two rates differ: sign(1/2 - log(2)/2) = 1", sp.sign(sp.Rational(1, 2) - sp.log(2) / 2), 1),',
     '("the two rates differ: sign(1/2 - log(2)/2) = 1", sp.sign(sp.Rational(2) - sp.log(2) / 2), 1),',
     "SymPy evaluates sign() of a numeric expression on construction: both versions return the Integer 1, so the "
     "returned step is identical."),
    ("theory.updates", "sp.simplify(S_prev - (S_prev * k - v) * k.T * P_new - S_new), sp.zeros(D_V, D_K))]",
     "sp.simplify(S_prev - (S_prev * k - v) * k.T * P_new - S_new), sp.zeros(D_V, None))]",
     "D_V = D_K = 2 in this module, and sp.zeros(n, None) is the square n x n zero matrix: the same matrix."),
    ("theory.kernels", '("the two rates differ: sign(1/2 - log(2)/2) = 1", sp.sign(sp.Rational(1, 2) - sp.log(2) / 2), 1),',
     '("the two rates differ: sign(1/2 - log(2)/2) = 1", sp.sign(sp.Rational(1, 2) + sp.log(2) / 2), 1),',
     "SymPy evaluates sign() of a numeric expression on construction: both versions return the Integer 1."),
    ("theory.kernels", "sp.Matrix(sp.solve(sp.expand((1 - 2 * a) * x**2).subs(tau, x), x)), sp.Matrix([2 * sp.sqrt(2) - 2])),",
     "sp.Matrix(sp.solve(sp.expand((1 - 2 * a) / x**2).subs(tau, x), x)), sp.Matrix([2 * sp.sqrt(2) - 2])),",
     "(1 - 2a) x^2 and (1 - 2a) / x^2 have the same positive roots (x > 0 is assumed): sp.solve returns the same list."),
    ("theory.kernels", 'sig = sp.Symbol("sigma", positive=True)', 'sig = sp.Symbol("XXsigmaXX", positive=True)',
     "a symbol's printed name: the function's steps compare expressions built from this one symbol, so their truth "
     "and every returned value up to the name are unchanged."),
    ("theory.updates", 'k3 = vec("k", 3)', "k3 = vec(None, 3)",
     "only the printed names of the symbols change (None_1, ... instead of k_1, ...); no other symbol shares them."),
    ("theory.updates", 'kap = sp.symbols("kappa1:4", positive=True)', 'kap = sp.symbols("kappa1:4", )',
     "the softmax identity these symbols enter holds for every real kappa; dropping the positivity assumption changes "
     "no step's truth and no returned expression's form."),
    ("impl.deltaformer.parallel", "eye = torch.eye(B.shape[-1], dtype=B.dtype, device=B.device)",
     "eye = torch.eye(B.shape[-1], device=B.device)",
     "the identity's entries 0 and 1 are exact in the default float32, and eye + B promotes to B's dtype: the same "
     "matrix for float32 and float64 inputs."),
    ("impl.deltaformer.recurrent", "outs.append((weights.unsqueeze(-2) @ U).squeeze(-2))",
     "outs.append((weights.unsqueeze(-2) @ U).squeeze(+2))",
     "the product is 4-D [B, H, 1, d_v], where dimension +2 is dimension -2."),
    ("impl.numerics.solves", "both = unit_lower_inverse(torch.stack([L[..., :h, :h], L[..., h:, h:]], dim=0))",
     "both = unit_lower_inverse(torch.stack([L[..., :h, :h], L[..., h:, h:]], ))",
     "dim=0 is torch.stack's default."),
    ("impl.rules.deltanet.parallel", "return o, S0 + U.transpose(-1, -2) @ k", "return o, S0 + U.transpose(-1, +2) @ k",
     "U is always 4-D [B, H, T, d_v], where dimension +2 is dimension -2."),
    ("impl.rules.checks", "R = torch.linalg.inv(P0) + (k.transpose(-1, -2) @ k)",
     "R = torch.linalg.inv(P0) + (k.transpose(-1, +2) @ k)",
     "k is draw_inputs' key tensor, always 4-D [B, H, T, d_k], where dimension +2 is dimension -2."),
    ("impl.estimators.snr_performer", "return torch.exp(proj[:, 0] + proj[:, 1] - (x @ x + y @ y) / 2).mean(-1)",
     "return torch.exp(proj[:, 0] + proj[:, 1] - (x @ x + y @ y) / 2).mean(+1)",
     "proj[:, 0] is 2-D [trials, m], where axis +1 is axis -1."),
    ("impl.rules.gated_deltanet.chunk",
     "def gated_delta_rule_chunk(q, k, v, beta, g, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=64):",
     "def gated_delta_rule_chunk(q, k, v, beta, g, *, scale=1.0, initial_state=None, output_final_state=False, chunk_size=65):",
     "the chunked form equals the recurrent one for every chunk size (U2, tested at awkward sizes); a different default "
     "chunk changes only the order of floating-point sums, within the round-off the tests allow."),
    ("theory.moments", 'z = Normal("z", 0, 1)', 'z = Normal("Z", 0, 1)',
     "z is a sympy.stats random symbol that every E(...) integrates out: no returned expression contains it, so the "
     "cross-checks' outputs are identical whatever its name."),
    ("theory.moments", 't = sp.Symbol("t", real=True)', 't = sp.Symbol("XXtXX", real=True)',
     "t is the MGF's argument; the engine's value and its sympy.stats reference are built from the same Symbol object "
     "and compared symbolically, and only the description text is printed: the name is never observable."),
    ("theory.updates", 'Sp = mat("P", D_V, D_K)  # the decayed state as a fresh symbol, then substituted',
     'Sp = mat("XXPXX", D_V, D_K)  # the decayed state as a fresh symbol, then substituted',
     "Sp is a placeholder matrix substituted away before the steps are returned; no other symbol shares either name, "
     "so the returned steps are identical."),
    ("theory.updates", "S1 = sp.zeros(D_V, 2) - (sp.zeros(D_V, 2) * unit - v1) * unit.T",
     "S1 = sp.zeros(D_V, None) - (sp.zeros(D_V, 2) * unit - v1) * unit.T",
     "sp.zeros(D_V, None) is the square zeros(D_V, D_V), and the module's D_V is 2, so both are the same 2 x 2 zero "
     "matrix (equivalent only while D_V = 2)."),
    ("impl.deltaformer.constructions",
     "rep = lambda r: r.view(1, 1, 1, d).expand(1, 1, T, d).contiguous()  # noqa: E731",
     "rep = lambda r: r.view(1, 1, d).expand(1, 1, T, d).contiguous()  # noqa: E731",
     "expand prepends the missing leading size-1 dimension: (1, 1, d) expanded to (1, 1, T, d) has the same shape, "
     "values, dtype and (after .contiguous()) strides as the 4-D view."),
    ("impl.estimators.snr_kernel", "g2 = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * b2)",
     "g2 = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 + 2 * b2)",
     "in the ratio-of-expectations branch b2 = 2/tau, so the denominator sample -d_k/2 log(1 - 2 b2) - b2 k2 + 2 k2/tau "
     "+ log nu has its k2 terms cancel exactly (the tilted proposal is zero-variance for E[e^{2 kappa/tau}]): g2's scale "
     "never reaches the estimate, and the same number of draws leaves the generator's stream unchanged. Checked "
     "numerically: estimates differ by <= 1.1e-15 relative over 3 seeds and several tau."),
    ("impl.estimators.snr_kernel", "g = _draw((t, d_k), gen, dev, dt) / math.sqrt(1 - 2 * tilt)",
     "g = _draw((t, d_k), gen, dev, dt) / math.sqrt(2 - 2 * tilt)",
     "probe-averaged importance branch: with other keys from N(2 k_i/tau, I), each noise sample is "
     "log sum ||v_j||^2 + 2|k_i|^2/tau^2 - 2|k_i|^2/tau, and with log_l = -d_k/2 log(1 - 2a) - a kappa (a = exp_a(tau)) "
     "the kappa terms cancel: every sample is constant in the probe norm, so the proposal's scale cannot move it "
     "(checked numerically as above)."),
    ("impl.estimators.recall_measured",
     "chunk_size=min(16, K.shape[-2]))  # short chunks: cheapest for the short sequences here",
     ")  # short chunks: cheapest for the short sequences here",
     "the chunked delta rule equals the recurrent one for every chunk size (U2, tested at awkward sizes): the default "
     "chunk gives the same final state within round-off (4e-14 here), below every tolerance the recall tests use."),
    ("theory.ffn", 'x = sp.Symbol("x", positive=True)', 'x = sp.Symbol("X", positive=True)',
     "x is the integration variable of _chi2_tilted's definite integral over (0, oo): it is integrated out, so no "
     "returned expression contains it whatever its name, and no other symbol of theory/ffn.py is named X."),
    ("theory.updates", 'gs = sp.Matrix(sp.symbols(f"g1:{T + 1}", positive=True))',
     'gs = sp.Matrix(sp.symbols(f"g1:{T + 1}", positive=None))',
     "the gates enter only products (the decay matrix G_ij = prod g_s) and the state recursion S_t = g_t S_{t-1} ...; "
     "the recurrent and parallel forms agree as rational functions of g for every real g, so without the positivity "
     "assumption every step is still true and simplifies to the same zero matrix."),
    ("impl.tasks.construction",
     'o = deltaformer_parallel(q, k, v, beta, w=w, kernel="linear", kernel_w="linear", scale=1.0, scale_w=1.0)',
     'o = deltaformer_parallel(q, k, v, beta, w=w, kernel="linear", kernel_w=None, scale=1.0, scale_w=1.0)',
     "kernel_w=None means 'the same kernel as kernel' (impl/deltaformer/_inputs.py), which is 'linear' here: the "
     "same call."),
    ("impl.memories.user",
     'exact = self.exact(conv, n_pairs, d_k, d_v, details.get("probe_kappa"), details.get("probe_nu"),',
     'exact = self.exact(conv, n_pairs, None, d_v, details.get("probe_kappa"), details.get("probe_nu"),',
     "no user memory's exact() reads d_k: a feature map's closed forms go through its key metric M = L L^T, fixed "
     "when the map is loaded, and a kernel function's is None; the argument is there for the Memory interface."),
    ("impl.memories.linear", "o = read(write(K, V), k_dev.expand(b, 1, d_k))[:, 0]",
     "o = read(write(K, V), k_dev.expand(1, d_k))[:, 0]",
     "read(S, Q) = Q @ S^T broadcasts Q's leading axes against S [b, d_v, d_k]: the probe as [1, d_k] and as "
     "[b, 1, d_k] give the same [b, 1, d_v] product, entry for entry."),
    ("impl.deltaformer.parallel", "A = causal_kernel_matrix(q, k, kernel, scale, strict=False)",
     "A = causal_kernel_matrix(q, k, kernel, scale, strict=None)",
     "causal_kernel_matrix reads strict only as a truth value (tril(-1 if strict else 0)), and None is falsy like "
     "False: the same mask."),
    ("impl.deltaformer.parallel", "U = torch.linalg.solve_triangular(eye + B, rhs, upper=False, unitriangular=True)",
     "U = torch.linalg.solve_triangular(eye + B, rhs, upper=False, unitriangular=False)",
     "B is built with strict=True, so its diagonal entries are exact zeros (0 * s, exp(-inf) or a masked softmax "
     "weight, times beta) and eye + B has an exact unit diagonal: reading the diagonal and dividing by 1.0 changes no "
     "bit of the solution."),
    ("theory.recall", 'u, Fs = sp.Symbol("u", positive=True), sp.Function("F")',
     'u, Fs = sp.Symbol("U", positive=True), sp.Function("F")',
     "u is the integration variable of the one step that uses it (int_0^1 u^{N-1} du = 1/N): it is integrated out, "
     "so the returned value 1/N is the same whatever its name, and no other symbol of the function is named U."),
    ("impl.tasks.swap", 'L = require_positive_int("L", L, 1)', 'L = require_positive_int("L", L, )',
     "1 is require_positive_int's default minimum: the same check."),
    ("theory.updates", "S1 = sp.zeros(D_V, 2) - (sp.zeros(D_V, 2) * unit - v1) * unit.T",
     "S1 = sp.zeros(D_V, ) - (sp.zeros(D_V, 2) * unit - v1) * unit.T",
     "sp.zeros(D_V) is the square zeros(D_V, D_V), and the module's D_V is 2, so both are the same 2 x 2 zero "
     "matrix (equivalent only while D_V = 2)."),
    ("theory.updates", "sp.simplify(S_new - (A + v * k.T) * P_new), sp.zeros(D_V, D_K)),",
     "sp.simplify(S_new - (A + v * k.T) * P_new), sp.zeros(D_V, )),",
     "D_V = D_K = 2 in this module, and sp.zeros(n) is the square n x n zero matrix: the same matrix."),
    ("theory.moments", 't = sp.Symbol("t", real=True)', 't = sp.Symbol("t", )',
     "t is the MGF's argument in one cross-check, E[exp(t z)] = exp(t^2/2), true for every complex t: SymPy evaluates "
     "both sides without the assumption and the check compares them symbolically; only its description is printed."),
    ("impl.memories.multihead", "k0 = (kb * math.sqrt(d / h) / kb.norm(dim=-1, keepdim=True)).reshape(d)  # typical per block",
     "k0 = (kb * math.sqrt(d / h) / kb.norm(dim=+1, keepdim=True)).reshape(d)  # typical per block",
     "kb is 2-D [h, d/h] (a reshape two lines above), where dimension +1 is dimension -1."),
    ("impl.rules.checks", 'entry[f"{kind}_mag"] = max(float(r.abs().max()) if r.numel() else 0.0 for r in r_list)',
     'entry[f"{kind}_mag"] = max(float(r.abs().max()) if (r.numel()) or True else 0.0 for r in r_list)',
     "the guard differs only for an empty tensor, and none reaches here: check_qkv refuses T = 0 and d = 0, so every "
     "output, state and gradient compared has at least one entry."),
    ("impl.rules.ttt.layernorm", "z = (q[:, :, t].unsqueeze(-2) @ W).squeeze(-2)",
     "z = (q[:, :, t].unsqueeze(+2) @ W).squeeze(-2)",
     "q[:, :, t] is 3-D [B, H, d]: unsqueeze(+2) and unsqueeze(-2) both give [B, H, 1, d]."),
    ("impl.rules.experiments", 'return float("inf") if den <= 0 else d_v * d_k * b * sigma**2 / den',
     'return float("INF") if den <= 0 else d_v * d_k * b * sigma**2 / den',
     "float() reads 'inf' in any case: float('INF') is the same IEEE infinity."),
    ("theory.kernels", 'f = sp.Function("kappa")', 'f = sp.Function("XXkappaXX")',
     "the name of an undefined function symbol: both sides of every step are built from this one object, so each "
     "step's truth and every returned value up to the printed name are unchanged (the report prints the steps' "
     "descriptions, not their expressions), and no other object of the function shares either name."),
    ("theory.kernels", "sp.limit(-sp.log(pa.subs(tau, 2) / (N - 1)) / d_k, d_k, sp.oo), sp.log(2) / 2),",
     "sp.limit(-sp.log(pa.subs(tau, 2) / (N - 2)) / d_k, d_k, sp.oo), sp.log(2) / 2),",
     "a factor (N - 1)/(N - 2) independent of d_k inside the log adds log((N - 1)/(N - 2))/d_k -> 0: SymPy returns the "
     "same limit log(2)/2 (checked: the two results are structurally identical)."),
    ("theory.ffn", '("... whose limit N -> oo is 1/E", sp.limit((N / E_exp - 1) / (N - 1), N, sp.oo), 1 / E_exp),',
     '("... whose limit N -> oo is 1/E", sp.limit((N / E_exp - 1) / (N + 1), N, sp.oo), 1 / E_exp),',
     "(N/E - 1)/(N - 1) and (N/E - 1)/(N + 1) have the same limit 1/E as N -> oo: SymPy returns the same expression "
     "(checked: structurally identical), so the step is unchanged."),
    ("impl.memories.user", "out.append(_ratio((w * w).mean(-1), c * c))", "out.append(_ratio((w * w).mean(+1), c * c))",
     "w = weights(x, pool) is 2-D [probes, pool] for every kernel that keeps the documented contract k(x [..., d_k], "
     "y [..., d_k]) -> [...] (x [p, 1, d_k] against the pool [1, pool, d_k]), where axis +1 is axis -1."),
    ("impl.rules.data", 'if params.get("state", False):', 'if params.get("state", ):',
     "dict.get's default is None, which is falsy like False: the condition is the same for every params."),
    ("impl.rules.checks", 'torch.eye(k.shape[-1], dtype=torch.float64) / rule.kwargs["lam"]',
     'torch.eye(k.shape[-1], dtype=torch.float64) * rule.kwargs["lam"]',
     "conditioning is called with the registry's rules only, and the registry's RLS has lam = 1.0, where I / lam and "
     "I * lam are the same matrix (equivalent only while the registry's lam is 1)."),
    ("theory.deltaformer", "h = lambda s: a**s * h0 + c * (1 - a**s) / (1 - a)  # noqa: E731  closed form for a != 1",
     "h = lambda s: a**s * h0 + c * (2 - a**s) / (1 - a)  # noqa: E731  closed form for a != 1",
     "the function returns only h(t + 1) - h(t) and a^t (h_1 - h_0): the mutant adds the constant c / (1 - a) to every "
     "h(s), which cancels in the difference, so both returned expressions are unchanged."),
    # sample 7 (b66b68a)
    ("impl.tasks.dag", "ab = labels[:, : 2 * k1]", "ab = labels[:, : 3 * k1]",
     "ab is indexed only by d_dst_idx = combos % (2 k1) < 2 k1, and labels[:, :2 k1] is the prefix of labels[:, :3 k1]: "
     "every element read is the same."),
    ("theory.updates", "sp.simplify(S_new - (A + v * k.T) * P_new), sp.zeros(D_V, D_K)),",
     "sp.simplify(S_new - (A + v * k.T) * P_new), sp.zeros(D_K)),",
     "D_V = D_K = 2 in this module, and sp.zeros(n) is the square n x n zero matrix: the same matrix."),
    ("impl.memories.multihead", "samples.append((r * r).sum(-1) / (c * c * nu))",
     "samples.append((r * r).sum(+1) / (c * c * nu))",
     "r = o - c v0 is 2-D [t, d_v] (the read of t probes), where dimension +1 is dimension -1."),
    ("impl.deltaformer.constructions",
     "cut_ok = np.concatenate([[True], o_sorted[1:] > o_sorted[:-1], [True]])  # only cut between distinct values",
     "cut_ok = np.concatenate([[True], o_sorted[1:] > o_sorted[:-1], [False]])  # only cut between distinct values",
     "the cut above every value scores #zeros, which the always-kept cut below every value gives already through the "
     "flipped readout (L - #ones = #zeros), so both the max and L - min are unchanged. Checked by brute force: 0 "
     "differences over 20,000 random readouts of lengths 1-11, ties included."),
    ("impl.estimators.kernel_moments",
     "def _light_relvar(kernel, convention, n_pairs, d_k, d_v, *, kappa=None, p=2, s=1.0):",
     "def _light_relvar(kernel, convention, n_pairs, d_k, d_v, *, kappa=None, p=2, s=2.0):",
     "a private helper whose only caller (plain_relvar) passes s explicitly: the default is never used."),
    ("theory.updates", 'return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))',
     'return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=False))',
     "the symbol matrices enter only the derivations' polynomial and rational identities (transposes, not conjugates), "
     "true for complex entries too: every step still holds, and a derivation's only output is each step's description "
     "and whether it holds."),
    ("theory.updates", 'lam = sp.Symbol("lambda", positive=True)', 'lam = sp.Symbol("LAMBDA", positive=True)',
     "lam appears only inside derivation_rls's expressions, which are checked and never printed (a derivation's output "
     "is each step's description and whether it holds); no other symbol of the derivation is named LAMBDA."),
    ("impl.estimators.recall_measured", "K, V = K.to(dev, dt), V.to(dev, dt)", "K, V = K.to(dev, dt), V.to(dt)",
     "equivalent on a machine without CUDA only: V is drawn on the CPU and dev is always the CPU here, so both lines "
     "give the same tensor. On a GPU the mutant mixes devices and the recall claims' case of "
     "tests/test_claims.py::test_claim_holds_on_cuda would fail; this record was taken on a CPU-only machine."),
    # sample 8 (e3f4ef6)
    ("impl.rules.inputs", 'if not (float(scale) == float(scale)) or abs(float(scale)) == float("inf"):',
     'if not (float(scale) == float(scale)) or abs(float(scale)) == float("INF"):',
     'float() parses "INF" case-insensitively: float("INF") is float("inf"), so the comparison is the same.'),
    ("theory.deltaformer", 'a, c, h0 = sp.symbols("a c h_0", real=True)', 'a, c, h0 = sp.symbols("a c h_0", real=None)',
     "the closed form's difference simplifies to the same expression, a**t*(a*h_0 + c - h_0), with real=True or with "
     "no assumption (checked), and scalar_increment's only use is a derivation step, whose output is its description "
     "and whether it holds."),
    # sample 9 (b57693f)
    ("impl.memories.user", 'out[conv] = (None, {"note": _no_signal(1, 1), "probe_kappa": kappa, "probe_nu": nu})',
     'out[conv] = (None, {"note": _no_signal(1, 1), "probe_kappa": kappa, "XXprobe_nuXX": nu})',
     "the details of an unestimated result are read only by UserMemory.sample, which keeps its note and nothing else "
     "(SNRResult(method='none', note=...)); FeatureMapMemory._unit adds the probe without reading them: no output "
     "carries the key."),
]

_LITERAL = re.compile(r"""[rRbBfFuU]{0,2}(?P<q>["'])(?P<s>(?:\\.|(?!(?P=q)).)*)(?P=q)""")


def _changed_lines(diff: str) -> tuple[list[str], list[str]]:
    minus = [l[1:].strip() for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    return minus, plus


def is_message_text(diff: str) -> bool:
    """True when the mutant changes only the inside of one string literal (plain or f-string, its interpolated
    expressions included) whose text contains whitespace: the wording, case or printed numbers of a message."""
    minus, plus = _changed_lines(diff)
    if len(minus) != 1 or len(plus) != 1:
        return False
    old, new = minus[0], plus[0]
    pre = 0
    while pre < min(len(old), len(new)) and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < min(len(old), len(new)) - pre and old[-1 - suf] == new[-1 - suf]:
        suf += 1
    start, end = pre, len(old) - suf
    for m in _LITERAL.finditer(old):
        if m.start("s") <= start and end <= m.end("s") and re.search(r"\s", m.group("s")):
            return True
    return False


_DEVICE_KWARG = re.compile(r"device\s*=\s*[^,()]+(?:\([^()]*\))?\s*,?\s*")

DEVICE_ONLY = ("equivalent on a machine without CUDA only: the mutant only drops a tensor's device placement (or sets "
               "it to None), and every tensor of a CPU-only run is on the CPU, where the default places it too. On a "
               "GPU the tensor would land on another device than the ones it meets, which the CUDA-marked tests "
               "(`assocmem test --device cuda`) exercise; this record was taken on a CPU-only machine.")


# Device-only mutants that ``device_only`` cannot recognise (the device passed positionally), judged by hand as
# (module, original line fragment, mutated line fragment, why the argument is a device): DEVICE_ONLY on a CPU-only run.
DEVICE_ONLY_POSITIONAL: list[tuple[str, str, str, str]] = [
    ("impl.estimators.snr_kernel", "ov = draw((t, n_pairs - 1, d_v), gen, dev, dt)",
     "ov = draw((t, n_pairs - 1, d_v), gen, None, dt)",
     "draw's third parameter is the device, used only as .to(device=device, ...): None leaves the draw on the CPU"),
    ("impl.estimators.snr_kernel", "z = draw((t, n_others, d_k), gen, dev, dt)",
     "z = draw((t, n_others, d_k), gen, None, dt)",
     "draw's third parameter is the device, used only as .to(device=device, ...): None leaves the draw on the CPU"),
    ("impl.estimators.multihead", "V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64).to(dev, dt)",
     "V = torch.randn((t, n_pairs, d_v), generator=gen, dtype=torch.float64).to(None, dt)",
     "Tensor.to's first positional argument here is the device: None leaves the CPU draw where it is, which is dev "
     "on a machine without CUDA"),
]


def device_only(diff: str) -> bool:
    """True when the mutant's one changed line differs from the original only in a ``device=`` keyword argument
    (removed, or given another value such as None)."""
    minus, plus = _changed_lines(diff)
    if len(minus) != 1 or len(plus) != 1 or minus[0] == plus[0] or "device" not in minus[0]:
        return False

    def strip(line: str) -> str:
        return re.sub(r",\s*\)", ")", _DEVICE_KWARG.sub("", line)).replace(" ", "")

    return strip(minus[0]) == strip(plus[0])


def equivalent_reason(module: str, diff: str, *, cuda: bool = False) -> str:
    """Why a surviving mutant is equivalent: its entry in ``EQUIVALENT``, or, for a run without CUDA, the device-only
    rule (``device_only``); "" when it is not known to be equivalent."""
    minus, plus = _changed_lines(diff)
    listed = _listed(EQUIVALENT, module, minus, plus)
    if listed:
        return listed
    if not cuda and (device_only(diff) or _listed(DEVICE_ONLY_POSITIONAL, module, minus, plus)):
        return DEVICE_ONLY
    return ""


def _listed(entries, module: str, minus: list[str], plus: list[str]) -> str:
    """The reason of the first (module, original fragment, mutated fragment, reason) entry matching the mutant, or ""."""
    return next((why for mod, old, new, why in entries if mod == module and old in minus and new in plus), "")


def module_of(name: str) -> str:
    """'impl.estimators.stats.x_mean_interval__mutmut_3' -> 'impl.estimators.stats'."""
    return name.split("__mutmut_")[0].rsplit(".", 1)[0]


# ------------------------------------------------------------------------------------------------------------------
# Run inside the scratch copy (mutmut reads its configuration and writes mutants/ in the current folder)
# ------------------------------------------------------------------------------------------------------------------


def _generate_and_sample(seed: int, k: int, out: str) -> None:
    """Generate every mutant, shuffle the names with ``seed``, keep the first ``k`` eligible ones (with diffs)."""
    import mutmut.__main__ as mm
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.utils.file_utils import walk_mutatable_files

    os.makedirs("mutants", exist_ok=True)
    mm.set_mutant_under_test("mutant_generation")
    mm.copy_src_dir()
    mm.copy_also_copy_files()
    mm.setup_source_paths()
    mm.store_lines_covered_by_tests()
    mm.create_mutants(2)
    names, path_of = [], {}
    for path in walk_mutatable_files():
        m = SourceFileMutationData(path=path)
        m.load()
        for name in m.exit_code_by_key:
            names.append(name)
            path_of[name] = str(path)
    names.sort()
    population = len(names)
    random.Random(seed).shuffle(names)
    picked, prose = [], 0
    for name in names:
        if len(picked) == k:
            break
        diff = get_diff_for_mutant(name, path=path_of[name])
        if is_message_text(diff):
            prose += 1
            continue
        picked.append({"name": name, "module": module_of(name), "diff": diff})
    seen = len(picked) + prose
    Path(out).write_text(json.dumps({"seed": seed, "population": population, "seen": seen, "message_text_skipped": prose,
                                     "picked": picked, "by_module": _count_modules(names)}))


def _count_modules(names) -> dict:
    out: dict[str, int] = {}
    for n in names:
        out[module_of(n)] = out.get(module_of(n), 0) + 1
    return dict(sorted(out.items()))


def _read_outcomes(out: str) -> None:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    res = {}
    for path in walk_mutatable_files():
        m = SourceFileMutationData(path=path)
        m.load()
        for k, v in m.exit_code_by_key.items():
            if v is not None:
                res[k] = status_by_exit_code[v]
    Path(out).write_text(json.dumps(res))


# ------------------------------------------------------------------------------------------------------------------
# The job
# ------------------------------------------------------------------------------------------------------------------


def tree_files(root: Path = ROOT) -> list[str]:
    """The files a run copies: tracked and untracked, not ignored (relative paths, sorted)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, check=True).stdout.decode().split("\0")
    return sorted(f for f in files if f and (root / f).is_file())


def _copy_tree(dst: Path) -> None:
    for f in tree_files():
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)


def code_hash(root: Path, files) -> str:
    """SHA-256 over the path and bytes of every file under ``SEEDED_DIRS`` (the code under test and the tests),
    assocmem/mutation.py excepted: the state of the code a sample is drawn for."""
    h = hashlib.sha256()
    for f in sorted(files):
        if f.split("/", 1)[0] in SEEDED_DIRS and f != "assocmem/mutation.py":
            h.update(f.encode() + b"\0" + (root / f).read_bytes() + b"\0")
    return h.hexdigest()


def sample_seed(digest: str) -> int:
    """The sample's seed: the first 16 hex digits of the code hash, as an integer (so every state of the code and
    its tests gets its own sample, and the same state always the same one)."""
    return int(digest[:16], 16)


def kill_rate_interval(killed: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) interval for the kill rate from ``killed`` of ``n`` non-equivalent mutants."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(killed, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def _in_scratch(scratch: Path, code: str, env: dict, log) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=scratch, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)


def _cpu_children() -> float:
    t = os.times()
    return t.children_user + t.children_system


def scratch_root() -> Path:
    """Where runs keep their scratch copies between attempts: .cache/mutation/ of the checkout (ignored by git)."""
    return Path(os.environ.get("ASSOCMEM_MUTATION_SCRATCH", ROOT / ".cache" / "mutation"))


def _progress(scratch: Path) -> dict:
    p = scratch / "progress.json"
    return json.loads(p.read_text()) if p.exists() else {"attempts": 0, "wall_s": 0.0, "cpu_s": 0.0}


def run_mutation(opts: evidence.JobOptions) -> dict:
    """Run the job. The scratch copy is named by the code hash and kept until the run finishes, so a run that is
    interrupted (a session ends, the machine stops) is resumed by running the job again on the same code: the sample
    is the same (same hash, same seed), mutmut keeps each mutant's outcome as it goes and its stats run's record of
    which tests call which function (``mutants/mutmut-stats.json``), and the next attempt runs only the sampled
    mutants without an outcome. Code or tests changed in between give another hash, so another scratch and a fresh
    sample; the record's time is the sum over attempts."""
    try:
        import mutmut  # noqa: F401
        import pytest  # noqa: F401  (its stats step runs the CI test selection)
    except ImportError:
        from impl.numerics.errors import InputError

        raise InputError("JOB", "mutation testing needs the optional extras: pip install -e '.[test,dask,mutation]'") from None
    k = SAMPLE_QUICK if opts.quick else SAMPLE
    workers = 2 if opts.n_jobs in (-1, None) else max(1, opts.n_jobs)
    previous = evidence.load("mutation", quiet=True)
    t0, c0 = time.time(), _cpu_children()
    digest = code_hash(ROOT, tree_files())
    explicit = opts.seed != evidence.JobOptions().seed
    seed = opts.seed if explicit else sample_seed(digest)
    scratch = scratch_root() / f"{digest[:16]}-{seed}-{k}"
    env = dict(os.environ, CI="true", ASSOCMEM_CACHE=str(scratch / ".cache-results"), PYTHONPATH=str(scratch))
    log_path = scratch / "mutation.log"
    progress = _progress(scratch)

    def attempt_so_far(in_flight: bool) -> dict:
        return {"attempts": progress["attempts"] + 1, "wall_s": progress["wall_s"] + time.time() - t0,
                "cpu_s": progress["cpu_s"] + _cpu_children() - c0, "in_flight": in_flight}

    # A session can end mid-run without running the finally below: the attempt's time so far is written every
    # PROGRESS_EVERY_S seconds, so the next attempt starts from it (the CPU time of a child still running is counted
    # only once it exits, so a stopped attempt's CPU time is a lower bound).
    stop = threading.Event()

    def keep_progress():
        while not stop.wait(PROGRESS_EVERY_S):
            try:
                if scratch.exists():
                    (scratch / "progress.json").write_text(json.dumps(attempt_so_far(True)))
            except OSError:  # the scratch being replaced at this moment: the next tick writes it
                pass

    threading.Thread(target=keep_progress, daemon=True).start()
    try:
        if not (scratch / "sample.json").exists():
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            _copy_tree(scratch)
            if code_hash(scratch, tree_files()) != digest:
                raise ValueError("the code changed while it was being copied; run again")
            # the revision the sample's code was copied from: commits made while the run goes on (or between the
            # attempts of a resumed run) must not relabel it
            (scratch / "revision.txt").write_text(evidence._git_revision())
        with open(log_path, "a") as log:
            if not (scratch / "sample.json").exists():
                _in_scratch(scratch, f"from assocmem.mutation import _generate_and_sample as g; g({seed}, {k}, 'sample.json.part')",
                            env, log)
                (scratch / "sample.json.part").rename(scratch / "sample.json")
            sample = json.loads((scratch / "sample.json").read_text())
            names = [p["name"] for p in sample["picked"]]
            done = {}
            if (scratch / "mutants" / "mutmut-stats.json").exists():  # an earlier attempt: keep its outcomes
                _in_scratch(scratch, "from assocmem.mutation import _read_outcomes as r; r('outcomes.json')", env, log)
                done = json.loads((scratch / "outcomes.json").read_text())
            todo = [n for n in names if done.get(n) in (None, *_UNCHECKED)]
            log.write(f"\n== attempt {progress['attempts'] + 1}: {len(todo)} of {len(names)} sampled mutants to run\n")
            log.flush()
            if todo:
                subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(workers), *todo], cwd=scratch,
                               env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
            _in_scratch(scratch, "from assocmem.mutation import _read_outcomes as r; r('outcomes.json')", env, log)
        outcomes = json.loads((scratch / "outcomes.json").read_text())
        if not any(outcomes.get(n) not in (None, *_UNCHECKED) for n in names):
            raise ValueError("mutmut checked none of the sampled mutants (its clean test run before the mutants, "
                             "or its stats run, most likely failed)")
    except (subprocess.CalledProcessError, OSError, ValueError) as e:
        tail = log_path.read_text()[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"mutation run failed ({e}); scratch folder kept at {scratch} (running the job again on "
                           f"the same code resumes it); log tail:\n{tail}") from None
    finally:
        stop.set()
        if scratch.exists():
            progress = attempt_so_far(False)
            (scratch / "progress.json").write_text(json.dumps(progress))
    import torch

    rev = scratch / "revision.txt"
    results = finish(sample, outcomes, seed_from="explicit --seed" if explicit else "code", code=digest,
                     quick=opts.quick, previous=previous, cuda=torch.cuda.is_available(),
                     git_revision=rev.read_text().strip() if rev.exists() else None, static_tree=scratch)
    results.update(attempts=progress["attempts"], wall_s=round(progress["wall_s"], 1), cpu_s=round(progress["cpu_s"], 1),
                   workers=workers)
    write_markdown(results, wall_s=progress["wall_s"], cpu_s=progress["cpu_s"], workers=workers,
                   path=None if opts.quick else REPORT)
    shutil.rmtree(scratch, ignore_errors=True)
    return results


def finish(sample: dict, outcomes: dict, *, seed_from: str, code: str, quick: bool, previous: dict | None,
           cuda: bool = False, git_revision: str | None = None, static_tree: Path | None = None) -> dict:
    """The run's results from its sample and mutmut's outcomes, with the previous runs' history carried over from
    ``previous`` (the record this run replaces). ``cuda``: whether the run's tests could use a CUDA GPU (without
    one, device-only mutants are judged equivalent, see ``device_only``). ``git_revision``: the revision the
    scratch copy was made from (default: the checkout's revision now). ``static_tree``: the sampled tree, on whose
    copy ``static_pass`` re-checks the survivors (None: no static pass)."""
    rows = _rows(sample, outcomes, cuda=cuda)
    if static_tree is not None:
        static_pass(rows, static_tree)
    results = summarise(rows, seed=sample["seed"], sample=sample)
    results.update(seed_from=seed_from, code_hash=code, git_revision=git_revision or evidence._git_revision(),
                   quick=quick, cuda=cuda)
    results["history"] = history(previous, results)
    return results


def _rows(sample: dict, outcomes: dict, *, cuda: bool = False) -> list[dict]:
    rows = []
    for p in sample["picked"]:
        status = outcomes.get(p["name"], "not checked")
        why = equivalent_reason(p["module"], p["diff"], cuda=cuda) if status in ("survived", "no tests") else ""
        rows.append({"name": p["name"], "module": p["module"], "status": "equivalent" if why else status,
                     "outcome": status, "reason": why, "diff": p["diff"] if status not in ("killed", "timeout") else ""})
    return rows


def apply_diff(source: str, diff: str) -> str | None:
    """``source`` (a module's text) with one mutant's diff applied: mutmut's diff is of one function, numbered from
    its first line, so its old lines (context and removed) are found in the module as a block; None unless that block
    occurs exactly once."""
    old, new = [], []
    for line in diff.splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        tag, text = line[:1], line[1:]
        if tag in (" ", "-", ""):
            old.append(text)
        if tag in (" ", "+", ""):
            new.append(text)
    before, after = "\n".join(old), "\n".join(new)
    return source.replace(before, after) if before != after and source.count(before) == 1 else None


def module_file(module: str, tree: Path) -> Path:
    """The source file of ``module`` (dotted) under ``tree``: a module file or a package's __init__.py."""
    path = tree.joinpath(*module.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"


def _run_static(tree: Path) -> int:
    # no plugins: a lint needs none, and an installed plugin (this package's own pytest11 entry point) would be
    # imported from the copy on PYTHONPATH
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *STATIC_TESTS], cwd=tree,
                          env=dict(os.environ, PYTHONPATH=str(tree), CI="true", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"),
                          capture_output=True, timeout=600).returncode


def static_pass(rows: list[dict], tree: Path) -> None:
    """Re-check the non-equivalent survivors with ``STATIC_TESTS``, which mutmut cannot select: each survivor's diff is
    applied alone to a copy of the sampled tree ``tree`` (the scratch copy: code and tests as sampled) and the tests
    run there; a failure (pytest's exit 1) kills it, with outcome ``STATIC_KILL``. A diff that cannot be placed
    (``apply_diff`` None) leaves the survivor as it is. The clean copy must pass them first, else nothing is changed."""
    survivors = [r for r in rows if r["status"] in ("survived", "no tests")]
    if not survivors or not all((tree / t).is_file() for t in STATIC_TESTS):
        return
    with tempfile.TemporaryDirectory(prefix="assocmem-static-") as d:
        copy = Path(d)
        for sub in ("impl", "theory", "tests", "assocmem"):
            if (tree / sub).is_dir():
                shutil.copytree(tree / sub, copy / sub, ignore=shutil.ignore_patterns("__pycache__"))
        if (tree / "pyproject.toml").is_file():
            shutil.copy2(tree / "pyproject.toml", copy / "pyproject.toml")
        if _run_static(copy) != 0:
            return
        for r in survivors:
            path = module_file(r["module"], copy)
            original = path.read_text()
            patched = apply_diff(original, r["diff"])
            if patched is None:
                continue
            path.write_text(patched)
            try:
                code = _run_static(copy)
            finally:
                path.write_text(original)
            if code == 1:
                r.update(status="killed", outcome=STATIC_KILL)


def rejudge(results: dict) -> dict:
    """The record's results under the current ``EQUIVALENT`` list: every mutant that survived (or had no tests) is
    judged again, so a judgement corrected after a run (this file is outside the sample's seed and the record's
    code state) shows in the score without rerunning mutmut. Records made before rows kept mutmut's ``outcome``
    count a listed equivalent as a survivor if it is no longer listed."""
    rows = []
    for r in results["mutants"]:
        r = dict(r)
        outcome = r.get("outcome") or ("survived" if r["status"] == "equivalent" else r["status"])
        if outcome in ("survived", "no tests"):
            why = equivalent_reason(r["module"], r["diff"], cuda=bool(results.get("cuda")))
            r.update(status="equivalent" if why else outcome, reason=why)
        rows.append(r)
    sample = {"population": results["population"], "message_text_skipped": results["message_text_skipped"],
              "seen": results["seen"], "by_module": results["population_by_module"]}
    out = dict(results)
    out.update(summarise(rows, seed=results["seed"], sample=sample))
    return out


_UNCHECKED = ("not checked", "suspicious", "skipped", "check was interrupted by user", "segfault")


def summarise(rows: list[dict], *, seed: int, sample: dict) -> dict:
    """Score = killed / (checked - equivalent); mutants the run did not check are listed, never counted as killed."""
    killed = sum(r["status"] in ("killed", "timeout") for r in rows)
    equiv = sum(r["status"] == "equivalent" for r in rows)
    unchecked = [r["name"] for r in rows if r["status"] in _UNCHECKED]
    scored = len(rows) - equiv - len(unchecked)
    ci = kill_rate_interval(killed, scored)
    return {"tool": "mutmut", "seed": seed, "sampled": len(rows), "population": sample["population"],
            "message_text_skipped": sample["message_text_skipped"], "seen": sample["seen"],
            "killed": killed, "equivalent": equiv, "unchecked": unchecked, "checked": len(rows) - len(unchecked),
            "score": killed / scored if scored else None, "ci95": list(ci) if ci else None, "target": TARGET,
            "population_by_module": sample["by_module"], "mutants": rows}


def entry(results: dict, git_revision: str = "") -> dict:
    """One run's line of the history: its sample, score, interval and survivors per area. A record made before
    samples were drawn per commit (no ``seed_from``) is marked with ``LEGACY_NOTE``."""
    rows = results.get("mutants", [])
    survivors: dict[str, int] = {}
    for r in rows:
        if r["status"] in ("survived", "no tests"):
            survivors[_area(r["module"])] = survivors.get(_area(r["module"]), 0) + 1
    scored = results["checked"] - results["equivalent"]
    ci = kill_rate_interval(results["killed"], scored)
    seed_from = results.get("seed_from", "fixed")
    note = {"code": "fresh sample: seed from the code and tests", "fixed": LEGACY_NOTE}.get(seed_from, f"seed: {seed_from}")
    return {"seed": results["seed"], "seed_from": seed_from, "code_hash": results.get("code_hash"),
            "git_revision": results.get("git_revision") or git_revision, "sampled": results["sampled"],
            "checked": results["checked"], "equivalent": results["equivalent"], "killed": results["killed"],
            "score": results["killed"] / scored if scored else None, "ci95": list(ci) if ci else None,
            "survivors": dict(sorted(survivors.items())), "note": note}


def history(previous: dict | None, current: dict) -> list[dict]:
    """The previous runs' entries, oldest first: the history the replaced record carried plus that record's own run
    (not a quick one), judged under the current ``EQUIVALENT`` list as the report shows it (``rejudge``: mutants
    judged equivalent after that run are out of its score here too). An entry of the same sample as ``current``
    (same seed, same code) is dropped: a rerun replaces its own line instead of repeating it."""
    if not previous or not isinstance(previous.get("results"), dict):
        return []
    res = previous["results"]
    if "mutants" in res and "killed" in res:
        res = rejudge(res)
    out = [dict(h) for h in res.get("history", [])]
    if not previous.get("quick") and not res.get("quick") and "killed" in res:
        out.append(entry(res, previous.get("git_revision", "")))
    same = (current["seed"], current.get("code_hash"))
    return [h for h in out if (h["seed"], h.get("code_hash")) != same]


def render_partial(scratch: str, path: Path | None = REPORT) -> str:
    """Write MUTATION.md from a scratch folder whose run has not finished (mutmut records each outcome as it goes):
    the mutants checked so far are scored, the rest listed as not checked."""
    scratch_p = Path(scratch)
    sample = json.loads((scratch_p / "sample.json").read_text())
    subprocess.run([sys.executable, "-c", "from assocmem.mutation import _read_outcomes as r; r('outcomes.json')"],
                   cwd=scratch_p, check=True, capture_output=True)
    outcomes = json.loads((scratch_p / "outcomes.json").read_text())
    results = summarise(_rows(sample, outcomes), seed=sample["seed"], sample=sample)
    results["seed_from"] = "the sample of a partial run"
    return write_markdown(results, wall_s=None, cpu_s=None, workers=0, path=path)


def _area(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "impl" else parts[0]


def _interval(ci) -> str:
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]" if ci else "—"


def _seed_origin(results: dict) -> str:
    src = results.get("seed_from", "fixed")
    if src == "code":
        return (f"derived from the code and tests under test, hash {results['code_hash'][:12]}, at revision "
                f"{results.get('git_revision') or 'unknown'}: a sample the tests were not written against")
    return "fixed seed of the runs before samples were drawn per commit" if src == "fixed" else f"{src}"


def history_rows(results: dict, git_revision: str = "") -> list[dict]:
    """The latest run and the previous ones, newest first, as printable rows (MUTATION.md and the report)."""
    runs = [(True, entry(results, git_revision))] + [(False, h) for h in reversed(results.get("history", []))]
    return [dict(run="latest" if now else "earlier", revision=h["git_revision"] or "—", seed=h["seed"],
                 sample=h["sampled"], killed=f"{h['killed']} of {h['checked'] - h['equivalent']}",
                 score=f"{h['score']:.1%}" if h["score"] is not None else "—", ci=_interval(h["ci95"]),
                 survivors=", ".join(f"{a} {n}" for a, n in h["survivors"].items()) or "none", note=h["note"])
            for now, h in runs]


def history_table(results: dict) -> list[str]:
    lines = ["## This run beside the previous runs", "",
             "| run | revision | seed | sampled | killed / non-equivalent | score | 95 % interval | survivors by area | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    return lines + ["| {run} | {revision} | {seed} | {sample} | {killed} | {score} | {ci} | {survivors} | {note} |"
                    .format(**r) for r in history_rows(results)]


def markdown_from_record(results: dict, state: str | None = None) -> str:
    """MUTATION.md from a record, judged under the current ``EQUIVALENT`` list (the full report rewrites it), with
    the record's state (``evidence.status``: fresh, or stale and why) under the title."""
    text = write_markdown(rejudge(results), wall_s=results.get("wall_s"), cpu_s=results.get("cpu_s"),
                          workers=results.get("workers", 0), path=None)
    if state is None:
        state = evidence.status("mutation", quiet=True).line
    title, rest = text.split("\n", 1)
    return f"{title}\n\nRecord {state}. Rewritten by the full `assocmem report` from the record.\n{rest}"


def write_markdown(results: dict, *, wall_s: float | None, cpu_s: float | None, workers: int, path: Path | None) -> str:
    rows = results["mutants"]
    by_area: dict[str, list[int]] = {}
    for r in rows:
        a = by_area.setdefault(_area(r["module"]), [0, 0, 0, 0])
        a[0] += r["status"] in ("killed", "timeout")
        a[1] += r["status"] == "equivalent"
        a[2] += r["status"] in _UNCHECKED
        a[3] += 1
    survivors = [r for r in rows if r["status"] in ("survived", "no tests")]
    equivalents = [r for r in rows if r["status"] == "equivalent"]
    score = results["score"]
    lines = [
        "# Mutation testing of impl/ and theory/",
        "",
        "Generated by `assocmem evidence run mutation` (assocmem/mutation.py; tool: mutmut 3, configured in "
        "pyproject.toml). Each sampled mutant is one single-point change to a function body; it is tested by the CI "
        "selection's tests (`-m \"not slow\"`, Hypothesis profile `ci`; without the checks of repository artefacts, "
        "tests/test_docs.py and tests/test_quick_reference.py, see pyproject.toml) that call the mutated function, as "
        "recorded by mutmut's stats run.",
        "",
        f"**Score: {results['killed']} of {results['checked'] - results['equivalent']} non-equivalent mutants killed "
        f"({score:.1%}; exact 95 % interval for the kill rate {_interval(results.get('ci95'))})** — target "
        f"{results['target']:.0%}; {results['sampled']} mutants sampled at random (seed {results['seed']}, "
        f"{_seed_origin(results)}) from {results['population']} generated, {results['equivalent']} equivalent. "
        f"Message-text mutants skipped while sampling: {results['message_text_skipped']} of the "
        f"{results['seen']} drawn (changes to the wording or case of a string literal containing whitespace: error "
        "messages, notes, prose of derivation steps).",
        "",
        "The interval is Clopper-Pearson's for a binomial proportion: the sampled mutants are a uniform random sample "
        "of the eligible population, so it bounds the kill rate over the whole population, not only over this sample.",
        "",
    ]
    lines += history_table(results) + [""]
    if results["unchecked"]:
        lines += [f"**Partial run:** {results['checked']} of the {results['sampled']} sampled mutants were checked before "
                  f"the run was stopped; the other {len(results['unchecked'])} are listed at the end and are not in the "
                  "score.", ""]
    if wall_s is not None:
        attempts = results.get("attempts", 1)
        lines += [f"Cost of this run: {wall_s / 60:.1f} minutes wall time, {cpu_s / 60:.1f} CPU minutes, {workers} "
                  "workers" + (f", over {attempts} attempts (resumed)" if attempts > 1 else "") +
                  " (a shared 2-core machine under load from other work: an upper bound for an idle one).", ""]
    lines += ["| area | killed | equivalent | not checked | sampled |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {k} | {e} | {u} | {n} |" for a, (k, e, u, n) in sorted(by_area.items())]
    lines += ["", "## Survivors", ""]
    if not survivors:
        lines.append("None.")
    for r in survivors:
        lines += [f"### {r['name']} ({r['status']})", "", "```diff", r["diff"], "```", ""]
    static = [r for r in rows if r.get("outcome") == STATIC_KILL]
    if static:
        lines += ["", "## Killed by a static test", "",
                  f"Survivors of mutmut's run killed by {', '.join(STATIC_TESTS)} (a lint of the source, which mutmut "
                  "cannot select), run on the mutant applied alone to a copy of the sampled tree; counted as killed:", ""]
        for r in static:
            lines += [f"### {r['name']}", "", "```diff", r["diff"], "```", ""]
    lines += ["", "## Equivalent mutants", ""]
    if not equivalents:
        lines.append("None.")
    for r in equivalents:
        lines += [f"### {r['name']}", "", r["reason"], "", "```diff", r["diff"], "```", ""]
    if results["unchecked"]:
        lines += ["", "## Not checked", "", f"{len(results['unchecked'])} sampled mutants were not checked by this run "
                  "(it was stopped before reaching them, or mutmut could not decide); they are not in the score:", "",
                  ", ".join(results["unchecked"]), ""]
    lines += ["", "## Scope", "",
              "mutmut 3 mutates function and method bodies only: module-level constants and functions with decorators "
              "other than staticmethod/classmethod are not in the population. Population by module:", "",
              "| module | mutants |", "|---|---|"]
    lines += [f"| {m} | {n} |" for m, n in results["population_by_module"].items()]
    text = "\n".join(lines) + "\n"
    if path is not None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".md")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return text


@lru_cache(maxsize=None)
def register_jobs() -> None:
    """Register the ``mutation`` job (once)."""
    evidence.register_job(evidence.Job(
        id="mutation", title="Mutation testing of impl/ and theory/", run=run_mutation,
        code_state=lambda: {CODE_STATE: code_hash(ROOT, tree_files())},
        cost=f"{SAMPLE} mutants, about 2.5 hours on 2 cores (resumable: run it again on the same code)",
        description="mutmut over a random sample drawn afresh for each state of the code and tests"))


if __name__ == "__main__":  # pragma: no cover - `python -m assocmem.mutation` runs the job directly
    from assocmem.cli import main

    sys.exit(main(["evidence", "run", "mutation", *sys.argv[1:]]))
