"""The DAG task (paper §3.3; docs/CLAIMS.md D5): a directed acyclic graph given as an edge list, then reachability
queries (s, t) whose answer needs k hops.

Graph (random, seeded): 3(k + 1) distinct node labels out of ``n_nodes``, arranged in three node-disjoint chains
a_0 -> ... -> a_k, b_0 -> ... -> b_k and c_0 -> ... -> c_k, plus ``extra`` distractor edges c_i -> x with x uniform
over the a and b nodes. No edge leaves chain a or b, so the graph is acyclic, a_0 reaches exactly a_1..a_k (by a
unique path of k hops: chain a has no shortcuts) and b_0 exactly b_1..b_k. The distractors treat chains a and b
alike, so no local feature of a node (in- or out-degree) gives an answer away: only following the k hops does.

Edge order (``order``):
* ``"in_order"``: a random topological order of the edges (every edge comes after every edge into its source, so
  each chain's edges appear in chain order, the chains interleaved at random);
* ``"shuffled"``: a uniformly random order.

The queries come after the edges: the four pairs (a_0, a_k), (a_0, b_k), (b_0, b_k), (b_0, a_k) in random order
(answers 1, 0, 1, 0). Tokens: one position per edge, then one per query, each position three ids whose embeddings
are summed (vocabulary 2 n_nodes + 2): edge (x, y) is (x, n_nodes + y, 2 n_nodes), query (s, t) is
(s, n_nodes + t, 2 n_nodes + 1). Training supervises every query; evaluation reads the first query only (one
balanced binary answer per instance). Length = hops k.

Auxiliary target (``successor``): for every query (s, t), the node s's single out-edge leads to (a_1 or b_1), the
same extra label for every trained arm (``dag_batch`` returns it beside the answers).

Reference rule: the one-pass forward closure (``one_pass_reachable``) reads the edges once, in order, and marks y
reached when an edge (x, y) arrives with x already reached. It is exact on in-order lists; on shuffled lists it
finds a_0 -> a_k only when chain a's edges happen to be in order, so its accuracy on balanced queries is
1/2 + P(chain edges in order)/2. A causal model that composes hops only backward in position, one pass deep (one
DeltaFormer layer: ``impl.deltaformer.constructions.reachability_deltaformer`` computes exactly this rule), cannot
beat it; deeper models can.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from impl.numerics.errors import InputError, require_positive_int

ORDERS = ("in_order", "shuffled")
EDGE_ROLE, QUERY_ROLE = 0, 1  # role id = 2 n_nodes + role


def shortest_hops(edges, s: int, t: int, *, require_path: bool = False) -> int | None:
    """Breadth-first search: the number of edges on a shortest path s -> t, or None when there is none.
    With ``require_path`` a missing path is an InputError (a query that must have an answer of k hops)."""
    adj: dict[int, list[int]] = {}
    for x, y in edges:
        adj.setdefault(int(x), []).append(int(y))
    dist = {s: 0}
    todo = deque([s])
    while todo:
        x = todo.popleft()
        for y in adj.get(x, ()):
            if y not in dist:
                dist[y] = dist[x] + 1
                todo.append(y)
    if t not in dist:
        if require_path:
            raise InputError("query", f"no path from node {s} to node {t} in the given DAG, but one is required")
        return None
    return dist[t]


def is_acyclic(edges) -> bool:
    """Kahn's algorithm."""
    nodes = {int(x) for e in edges for x in e}
    indeg = {x: 0 for x in nodes}
    adj: dict[int, list[int]] = {}
    for x, y in edges:
        adj.setdefault(int(x), []).append(int(y))
        indeg[int(y)] += 1
    todo = deque(x for x in nodes if indeg[x] == 0)
    seen = 0
    while todo:
        x = todo.popleft()
        seen += 1
        for y in adj.get(x, ()):
            indeg[y] -= 1
            if indeg[y] == 0:
                todo.append(y)
    return seen == len(nodes)


def is_topological(edges) -> bool:
    """Whether every edge comes after every edge into its source."""
    last_in: dict[int, int] = {}
    for p, (_, y) in enumerate(edges):
        last_in[int(y)] = p
    return all(last_in.get(int(x), -1) < p for p, (x, _) in enumerate(edges))


def one_pass_reachable(edges, s: int, t: int) -> bool:
    """The one-pass forward closure: read the edges once in their order; y is reached when (x, y) arrives with x
    already reached. True iff some path s -> t has its edges in increasing position."""
    reached = {int(s)}
    for x, y in edges:
        if int(x) in reached:
            reached.add(int(y))
    return int(t) in reached


def passes_reachable(edges, s: int, t: int, passes: int) -> bool:
    """The ``passes``-pass forward closure: ``one_pass_reachable`` repeated ``passes`` times over the list, each
    pass starting from every node reached so far. True iff some path s -> t splits into at most ``passes`` runs
    of edges in increasing position."""
    passes = require_positive_int("passes", passes, 1)
    reached = {int(s)}
    for _ in range(passes):
        for x, y in edges:
            if int(x) in reached:
                reached.add(int(y))
    return int(t) in reached


def eulerian(k: int, d: int) -> int:
    """The Eulerian number A(k, d): permutations of k items with exactly d descents,
    A(k, d) = sum_{j=0}^{d} (-1)^j C(k + 1, j) (d + 1 - j)^k."""
    from math import comb

    return sum((-1) ** j * comb(k + 1, j) * (d + 1 - j) ** k for j in range(d + 1))


def passes_accuracy(k: int, passes: int) -> float:
    """Accuracy of the ``passes``-pass closure on the balanced queries of shuffled k-hop instances:
    1/2 + P(the k chain edges form <= passes increasing runs)/2 = 1/2 + sum_{d < passes} A(k, d) / (2 k!) (the
    chain's positions are a uniform random permutation; a run boundary is a descent; unreachable targets are never
    reached). One pass gives 1/2 + 1/(2 k!), the one-pass bound."""
    from math import factorial

    k = require_positive_int("k", k, 1)
    passes = require_positive_int("passes", passes, 1)
    return 0.5 + sum(eulerian(k, d) for d in range(min(passes, k))) / (2 * factorial(k))


def random_topological_order(edges, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A random topological order of the edges of a DAG: repeatedly place a uniformly chosen edge among those
    whose source has all its incoming edges placed."""
    indeg: dict[int, int] = {}
    for _, y in edges:
        indeg[y] = indeg.get(y, 0) + 1
    remaining = list(edges)
    out = []
    while remaining:
        ready = [i for i, (x, _) in enumerate(remaining) if indeg.get(x, 0) == 0]
        if not ready:
            raise InputError("edges", "must form a directed acyclic graph")
        x, y = remaining.pop(ready[int(rng.integers(0, len(ready)))])
        indeg[y] -= 1
        out.append((x, y))
    return out


@dataclass(frozen=True)
class DagInstance:
    edges: list  # [(x, y)] in presentation order
    queries: list  # [(s, t)] in presentation order
    answers: list  # [bool] reachable?
    k: int


def _check_instance_args(k, n_nodes, extra, order) -> tuple[int, int]:
    """(k, n_nodes) checked, with ``extra`` and ``order``; one-line InputErrors naming the argument."""
    k = require_positive_int("k", k, 1)
    n_nodes = require_positive_int("n_nodes", n_nodes, 2)
    if n_nodes < 3 * (k + 1):
        raise InputError("n_nodes", f"must be >= 3 (k + 1) = {3 * (k + 1)} for three chains of {k} hops, got {n_nodes}")
    if isinstance(extra, bool) or not isinstance(extra, (int, np.integer)) or extra < 0:
        raise InputError("extra", f"must be an integer >= 0, got {extra!r}")
    if order not in ORDERS:
        raise InputError("order", f"must be one of {', '.join(ORDERS)}, got {order!r}")
    return k, n_nodes


def dag_instance(k: int, n_nodes: int, extra: int, rng: np.random.Generator, *, order: str = "shuffled") -> DagInstance:
    """One instance with k-hop chains; see the module docstring."""
    k, n_nodes = _check_instance_args(k, n_nodes, extra, order)
    labels = [int(x) for x in rng.permutation(n_nodes)[: 3 * (k + 1)]]
    a, b, c = labels[: k + 1], labels[k + 1 : 2 * (k + 1)], labels[2 * (k + 1) :]
    edges = [(ch[i], ch[i + 1]) for ch in (a, b, c) for i in range(k)]
    targets = a + b
    cross = set()
    while len(cross) < min(extra, (k + 1) * len(targets)):
        cross.add((c[int(rng.integers(0, k + 1))], targets[int(rng.integers(0, len(targets)))]))
    edges += sorted(cross)
    edges = [edges[i] for i in rng.permutation(len(edges))]
    if order == "in_order":
        edges = random_topological_order(edges, rng)
    pairs = [((a[0], a[k]), True), ((a[0], b[k]), False), ((b[0], b[k]), True), ((b[0], a[k]), False)]
    pairs = [pairs[i] for i in rng.permutation(4)]
    return DagInstance(edges, [p for p, _ in pairs], [r for _, r in pairs], k)


def encode(inst: DagInstance, n_nodes: int) -> list[tuple[int, int, int]]:
    """Token ids per position: edges (x, n + y, 2n), then queries (s, n + t, 2n + 1)."""
    return ([(x, n_nodes + y, 2 * n_nodes + EDGE_ROLE) for x, y in inst.edges]
            + [(s, n_nodes + t, 2 * n_nodes + QUERY_ROLE) for s, t in inst.queries])


def decode(tokens, n_nodes: int) -> tuple[list, list]:
    """Inverse of ``encode``: (edges, queries) from a [positions, 3] id array."""
    edges, queries = [], []
    for x, y, role in (tuple(int(v) for v in row) for row in tokens):
        if not (0 <= x < n_nodes and n_nodes <= y < 2 * n_nodes and role in (2 * n_nodes, 2 * n_nodes + 1)):
            raise InputError("tokens", f"({x}, {y}, {role}) is not an edge or query token for {n_nodes} nodes")
        (edges if role == 2 * n_nodes + EDGE_ROLE else queries).append((x, y - n_nodes))
    return edges, queries


def successor(edges, s: int) -> int | None:
    """The auxiliary target of a query (s, t): the node that s's out-edge leads to (in this task a_0 and b_0 have
    exactly one out-edge, a_0 -> a_1 and b_0 -> b_1), or None when s has none. More than one out-edge is an
    InputError (the target would be ambiguous)."""
    outs = [int(y) for x, y in edges if int(x) == int(s)]
    if len(outs) > 1:
        raise InputError("edges", f"node {s} has {len(outs)} out-edges; the successor target needs at most one")
    return outs[0] if outs else None


@dataclass(frozen=True)
class DagBatch:
    tokens: torch.Tensor  # [batch, E + 4, 3] long: edges then the four queries
    targets: torch.Tensor  # [batch, 4] long: the answers of the queries, in order
    n_nodes: int
    aux: torch.Tensor  # [batch, 4] long: the successor of each query's source node (``successor``)
    k: int

    @property
    def instances(self) -> tuple:
        """The DagInstance of every row (decoded from the tokens; for tests and inspection)."""
        out = []
        for row, ans in zip(self.tokens.tolist(), self.targets.tolist()):
            edges, queries = decode(row, self.n_nodes)
            out.append(DagInstance(edges, queries, [bool(a) for a in ans], self.k))
        return tuple(out)


def _topological_times(a, b, c, d_src_idx, d_dst_idx, r_chain, r_dis):
    """Times whose ascending order is a random topological order of the edges (vectorised over the batch).

    Each edge gets t(e) = max(r_e, ready(source) + EPS), ready(x) = the largest time of an edge into x (0 if
    none), with r_e uniform in (0, 1): every edge is strictly later than every edge into its source. Chain c first
    (it has no in-edges from outside), then the distractors c_j -> x, then chains a and b node by node."""
    B, k1 = a.shape
    k = k1 - 1
    eps = 1e-9
    rows = np.arange(B)
    t_c = np.empty((B, k))
    ready = np.zeros(B)
    for i in range(k):  # c_i -> c_{i+1}
        t_c[:, i] = np.maximum(r_chain[:, 2 * k + i], ready + eps)
        ready = t_c[:, i]
    ready_c = np.concatenate([np.zeros((B, 1)), t_c], axis=1)  # ready(c_j)
    t_d = np.maximum(r_dis, ready_c[rows[:, None], d_src_idx] + eps)
    into = np.zeros((B, 2 * k1))  # ready contribution of distractors into the a and b nodes
    np.maximum.at(into, (np.repeat(rows, d_dst_idx.shape[1]), d_dst_idx.ravel()), t_d.ravel())
    t_ab = np.empty((B, 2 * k))
    for ch in range(2):  # chain a (nodes 0..k of ``into``), chain b (k1..2k+1)
        ready = into[:, ch * k1]
        for i in range(k):
            t = np.maximum(r_chain[:, ch * k + i], ready + eps)
            t_ab[:, ch * k + i] = t
            ready = np.maximum(t, into[:, ch * k1 + i + 1])
    return np.concatenate([t_ab, t_c, t_d], axis=1)


def dag_batch(k: int, n_nodes: int, extra: int, batch: int, rng: np.random.Generator, *,
              order: str = "shuffled") -> DagBatch:
    """``batch`` instances with k hops, generated with array operations (no per-instance Python): the graph of
    ``dag_instance`` (three chains, ``extra`` distinct distractors c_i -> x over the a and b nodes), the four
    queries in random order, the answers and the auxiliary ``successor`` targets. Edge order: a uniform random
    permutation (``shuffled``) or a random topological order (``in_order``; ``_topological_times``; a different
    random topological order than ``dag_instance``'s, which is kept as the per-instance reference)."""
    k, n_nodes = _check_instance_args(k, n_nodes, extra, order)
    batch = require_positive_int("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng", "must be a numpy.random.Generator (seeded)")
    k1 = k + 1
    labels = rng.random((batch, n_nodes)).argsort(axis=1)[:, : 3 * k1]
    a, b, c = labels[:, :k1], labels[:, k1 : 2 * k1], labels[:, 2 * k1 :]
    ab = labels[:, : 2 * k1]
    n_dis = min(int(extra), k1 * 2 * k1)
    combos = rng.random((batch, k1 * 2 * k1)).argsort(axis=1)[:, :n_dis]
    d_src_idx, d_dst_idx = combos // (2 * k1), combos % (2 * k1)
    rows = np.arange(batch)[:, None]
    src = np.concatenate([a[:, :k], b[:, :k], c[:, :k], c[rows, d_src_idx]], axis=1)
    dst = np.concatenate([a[:, 1:], b[:, 1:], c[:, 1:], ab[rows, d_dst_idx]], axis=1)
    E = src.shape[1]
    if order == "shuffled":
        perm = rng.random((batch, E)).argsort(axis=1)
    else:
        times = _topological_times(a, b, c, d_src_idx, d_dst_idx, rng.random((batch, 3 * k)),
                                   rng.random((batch, n_dis)))
        perm = times.argsort(axis=1, kind="stable")
    src, dst = src[rows, perm], dst[rows, perm]
    # the four queries (a0, ak) 1, (a0, bk) 0, (b0, bk) 1, (b0, ak) 0 in random order, with the successor of s
    qs = np.stack([a[:, 0], a[:, 0], b[:, 0], b[:, 0]], axis=1)
    qt = np.stack([a[:, k], b[:, k], b[:, k], a[:, k]], axis=1)
    qa = np.tile(np.array([1, 0, 1, 0]), (batch, 1))
    qx = np.stack([a[:, 1], a[:, 1], b[:, 1], b[:, 1]], axis=1)
    qp = rng.random((batch, 4)).argsort(axis=1)
    qs, qt, qa, qx = (m[rows, qp] for m in (qs, qt, qa, qx))
    role = 2 * n_nodes
    edge_tok = np.stack([src, n_nodes + dst, np.full_like(src, role + EDGE_ROLE)], axis=-1)
    query_tok = np.stack([qs, n_nodes + qt, np.full_like(qs, role + QUERY_ROLE)], axis=-1)
    tokens = torch.from_numpy(np.concatenate([edge_tok, query_tok], axis=1).astype(np.int64))
    return DagBatch(tokens, torch.from_numpy(qa.astype(np.int64)), n_nodes, torch.from_numpy(qx.astype(np.int64)), k)


def vocab_size(n_nodes: int) -> int:
    return 2 * n_nodes + 2
