"""The claims catalogue: every registered claim with its provenance tag, paper reference, kind, convention and
statement, grouped by the items of the paper it belongs to (C1-C12, U1-U4, D1-D5).

``assocmem claims`` prints it; ``docs/CLAIMS.md`` is the same text in Markdown, generated from the registry
(``assocmem claims --format markdown > docs/CLAIMS.md``; a test checks that the file is up to date).
The item summaries below are this repository's own account of what the paper states and what the suite adds.
"""

from __future__ import annotations

import textwrap

from assocmem import jsonout, registry

TAGS = {
    "paper": "stated in the paper (equation or section given where known)",
    "reconstructed": "the paper states a result here but only part of it is known; the formula checked is the only "
                     "completion consistent with the known part and the paper's assumptions",
    "suite": "this suite's own exact derivation, extension, or a standard result from another paper (cited)",
}

KINDS = {
    "symbolic": "a derivation, every step verified by SymPy",
    "identity": "an exact statement checked in float64 against a tolerance derived from round-off",
    "statistical": "the exact value must lie in a calibrated interval of a Monte Carlo estimate, at a declared "
                   "false-failure rate; a deliberately wrong formula must fail the same check (power)",
    "approximation": "an approximate formula (usually the paper's) against the exact or measured value, with a "
                     "stated relative tolerance; the verdict names the regime where it holds",
    "experiment": "a trained or simulated comparison with a criterion stated before it runs",
}

CONVENTIONS = {
    "conditional": "a function of the probed pair (k_i, v_i): the expectation is over the other pairs only",
    "probe_averaged": "the conditional value averaged over the probe (an expectation of a ratio)",
    "ratio_of_expectations": "E||r||^2 / E[c^2 ||v_i||^2], both expectations over everything",
    "typical": "the conditional value at a typical probe, ||k_i||^2 = d_k and ||v_i||^2 = d_v",
}

# (title, summary) per item of the paper; the summary is the repository's own words.
GROUPS = {
    "C1": ("Linear associative memory",
           "The memory of N pairs is the sum of outer products S = sum_j v_j k_j^T, written one pair at a time "
           "(S_t = S_{t-1} + v_t k_t^T, which is linear attention) and read by o = S q (paper Eq. 1)."),
    "C2": ("Signal and noise",
           "Probing with a stored key splits the read-out into signal and crosstalk: S k_i = c v_i + r with "
           "c = ||k_i||^2 and r = sum_{j != i} v_j (k_j^T k_i) (paper Eq. 4). With orthonormal keys and N <= d_k "
           "the crosstalk vanishes; with N > d_k it cannot."),
    "C3": ("Retrieval SNR and its conventions",
           "SNR^-1 = E_others ||r||^2 / (c^2 ||v_i||^2). A single number needs a convention for the probe "
           "(conditional, probe-averaged, ratio of expectations, typical); they differ at finite d, and every number "
           "the suite prints names its convention. A derived proxy: cos(o, v_i) ~ 1/sqrt(1 + SNR^-1)."),
    "C4": ("Linear memory: SNR^-1 ~ N/d_k",
           "The paper's Eq. 7: capacity proportional to d_k. The suite derives the exact finite-d value in each "
           "convention — conditional (N-1) d_v/(||k_i||^2 ||v_i||^2), probe-averaged (N-1) d_v/((d_k-2)(d_v-2)), "
           "ratio of expectations (N-1)/(d_k+2) — and shows where N/d_k stops being a good approximation."),
    "C5": ("Kernel memories",
           "Replacing keys by features phi(k) gives o = sum_j v_j kappa(k_j, q) with kappa(x, y) = phi(x)^T phi(y); "
           "softmax attention is the exponential kernel followed by normalisation."),
    "C6": ("General kernel SNR",
           "For zero-mean isotropic values independent of the keys, SNR^-1 = (N-1) E[kappa(k_j, k_i)^2] / "
           "kappa(k_i, k_i)^2, times d_v/||v_i||^2 in the conditional convention."),
    "C7": ("Exponential kernel",
           "Only the start of the paper's formula is known; with Gaussian keys the conditional value is exactly "
           "(N-1)(d_v/||v_i||^2) exp(2 ||k_i||^2 (1/tau^2 - 1/tau)), smallest at tau = 2, where capacity grows like "
           "e^{d_k/2}. The probe average is dominated by rare probes and grows only like 2^{d_k/2}; plain Monte "
           "Carlo cannot resolve it, so the suite uses analytic moments and importance sampling."),
    "C8": ("Softmax normalisation leaves the SNR unchanged",
           "Dividing signal and noise by the same normaliser leaves their ratio unchanged, sample by sample."),
    "C9": ("Other kernels",
           "Exact SNRs for the ReLU, polynomial, Gaussian (RBF) and Taylor kernels, Performer random features "
           "(unbiased, with a variance that adds a noise floor shrinking with the number of features m), and keys "
           "uniform on a sphere (Bessel-function moments)."),
    "C10": ("Capacity",
            "The largest N at a target SNR: linear ~ d_k, polynomial ~ d_k^p/(2p-1)!!, exponential (tau = 2) "
            "~ e^{d_k/2}; and retrieval accuracy when decoding to the nearest stored value."),
    "C11": ("FFN as associative memory",
            "FFN(x) = W_down s(W_up x): rows of W_up are keys, columns of W_down values, the activation plays the "
            "kernel. Its second moment decides the SNR; gating is a product kernel, top-1 mixture-of-experts routing "
            "over E experts cuts the interfering slots by about E. Checked on constructed and on small trained FFNs."),
    "C12": ("Multi-head",
            "Splitting width d into h heads of d/h changes each head's capacity (linear: N h/d per head; "
            "exponential: e^{d/(2h)}); retrieval against h at fixed total width."),
    "U1": ("One framework for memory updates",
           "Every layer updates its memory by one optimiser step on a per-token objective: linear attention, decay "
           "(RetNet), data-dependent decay (GLA, Mamba2), DeltaNet, Gated DeltaNet, Longhorn (a proximal step), "
           "TTT/Titans (momentum and decay), RLS (the exact ridge solution) and softmax attention (Nadaraya-Watson)."),
    "U2": ("Equivalent forms",
           "Each rule has a recurrent form (the ground truth), a parallel matrix form and a chunked form; all agree "
           "to float64 round-off (chunked DeltaNet through the WY/UT representation)."),
    "U3": ("Delta-rule facts",
           "With b = 1 and orthonormal keys every pair is retrieved exactly; a repeated key returns its latest value "
           "(linear attention: the sum); the transition I - b k k^T has eigenvalue 1 - b ||k||^2 along k; beyond "
           "N = d_k random keys the delta rule retrieves better than linear attention."),
    "U4": ("Infinite context and the optimal memory",
           "With a fixed rule the memory converges, as context grows, to the optimum of its own objective: RLS to "
           "S* = W, the delta rule to a b-dependent neighbourhood, normalised linear attention to a biased limit; "
           "at fixed d every memory's retrieval worsens as N grows (finite capacity)."),
    "D1": ("DeltaFormer",
           "The delta rule in a kernel's feature space: u_t = v_t - b_t sum_{j<t} kappa1(w_t, k_j) u_j and "
           "o_t = sum_{j<=t} kappa2(q_t, k_j) u_j; in matrix form O = A (I + B)^{-1} V with B strictly lower "
           "triangular, so (I + B)^{-1} is a finite Neumann series: multi-hop attention."),
    "D2": ("Reductions",
           "With the linear unnormalised kernel DeltaFormer is DeltaNet; with b = 0 it is softmax attention."),
    "D3": ("Beyond TC^0: state tracking",
           "One delta-rule step with b = 2 on e = (e_i - e_j)/sqrt(2) performs the swap (i j), so permutations can "
           "be tracked; b = 2 on a fixed key computes parity, impossible with eigenvalues in [0, 1]. These "
           "constructions use the linear kernel; they are never cited for DeltaFormer's positive kernels."),
    "D4": ("Swap task",
           "Items in slots, a sequence of swaps, then 'which item is in slot x': DeltaFormer, DeltaNet and a softmax "
           "Transformer of equal size, trained with a curriculum, compared on accuracy against length. A verdict "
           "needs each model to fit its training lengths first (otherwise inconclusive)."),
    "D5": ("DAG task",
           "Reachability in a directed acyclic graph given as an edge list: multi-hop reasoning, the mechanism "
           "DeltaFormer's Neumann series provides."),
}

PARTS = {"I": "Part I — Memory capacity", "II": "Part II — Memory update", "III": "Part III — DeltaFormer and expressiveness"}


def _selected(prefixes) -> list[registry.Claim]:
    claims = registry.claims()
    if prefixes:
        claims = [c for c in claims if any(c.id.startswith(p) for p in prefixes)]
    return claims


def entry(c: registry.Claim) -> dict:
    """One claim as plain data."""
    return {"id": c.id, "title": c.title, "tag": c.tag, "ref": c.ref, "kind": c.kind, "convention": c.convention or None,
            "statement": c.statement, "alpha": c.alpha if c.kind == "statistical" else None,
            "wrong_formula_rejected": c.mutant_says or None, "evidence_job": c.evidence or None,
            "group": c.group, "group_title": GROUPS.get(c.group, ("", ""))[0]}


def as_json(prefixes=()) -> str:
    return jsonout.dumps([entry(c) for c in _selected(prefixes)], indent=1, ensure_ascii=False) + "\n"


def as_text(prefixes=()) -> str:
    lines, group = [], None
    for c in _selected(prefixes):
        if c.group != group:
            group = c.group
            lines += ["", f"{group}  {GROUPS.get(group, ('', ''))[0]}"]
        extra = f" · convention {c.convention}" if c.convention else ""
        lines.append(f"  {c.id:34s} [{c.tag}] {c.kind}{extra} · {c.ref}")
        lines += textwrap.wrap(c.statement, width=110, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines[1:]) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def as_markdown(prefixes=()) -> str:
    claims = _selected(prefixes)
    out = [
        "# Claims catalogue",
        "",
        "<!-- Generated from the claims registry by `assocmem claims --format markdown > docs/CLAIMS.md`; do not "
        "edit by hand (tests/test_docs.py checks it is current). -->",
        "",
        "The claims of *Understanding Transformer from the Perspective of Associative Memory* (Zhong, Xu, Ao, Shi; "
        "arXiv 2505.19488, 2025) that this suite checks, one entry per registered check. The paper's full text was "
        "not available to the project: what is known of it is its abstract, its section outline, equations 1, 4 "
        "and 7, the definition of the retrieval SNR, the general kernel SNR formula, the start of the exponential "
        "kernel's formula, and the DeltaFormer construction. Everything else is the suite's own derivation or a "
        "cited standard result, and every claim says which by its tag.",
        "",
        "## Provenance tags",
        "",
        *[f"- **[{t}]** {d}." for t, d in TAGS.items()],
        "",
        "## Kinds of check",
        "",
        *[f"- **{k}**: {d}." for k, d in KINDS.items()],
        "",
        "## Notation and SNR conventions",
        "",
        "N stored pairs (k_j, v_j) with k in R^{d_k}, v in R^{d_v}; the memory S in R^{d_v x d_k}; a stored pair is "
        "probed with q = k_i. By default all keys and values are independent standard Gaussians. Probing gives "
        "S k_i = c v_i + r, and the retrieval SNR is defined through its inverse, SNR^-1 = E_others ||r||^2 / "
        "(c^2 ||v_i||^2). Every printed SNR names one of four conventions:",
        "",
        *[f"- **{k}**: {d}." for k, d in CONVENTIONS.items()],
        "",
        "At d_k = d_v = 16 and N = 64 they give 3.94 (typical), 5.14 (probe-averaged) and 3.5 (ratio of "
        "expectations), against the paper's N/d_k = 4.",
        "",
        f"## Index ({len(claims)} claims)",
        "",
        "| claim | tag | kind | reference |",
        "|---|---|---|---|",
        *[f"| [{c.id}](#{c.id.replace('.', '').lower()}) | [{c.tag}] | {c.kind} | {_md(c.ref)} |" for c in claims],
    ]
    part = group = None
    for c in claims:
        if c.part != part:
            part = c.part
            out += ["", f"## {PARTS[part]}"]
        if c.group != group:
            group = c.group
            title, summary = GROUPS.get(group, ("", ""))
            out += ["", f"### {group} — {title}" if title else f"### {group}", ""]
            if summary:
                out += [summary, ""]
        out += [f"#### {c.id}", "", f"**{c.title}** · [{c.tag}] · {c.kind} · reference: {c.ref}"
                + (f" · convention: {c.convention}" if c.convention else ""), "", c.statement]
        facts = []
        if c.kind == "statistical":
            facts.append(f"declared false-failure rate {c.alpha:g} per check")
        if c.mutant_says:
            facts.append(f"wrong formula that must fail: “{c.mutant_says}”")
        if c.evidence:
            facts.append(f"evidence from the job `{c.evidence}` (`assocmem evidence run {c.evidence}`)")
        if facts:
            out += ["", "*" + "; ".join(facts) + ".*"]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


FORMATS = {"text": as_text, "markdown": as_markdown, "json": as_json}
