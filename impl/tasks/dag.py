"""The DAG task (paper §3.3; docs/CLAIMS.md D5): a directed acyclic graph given as a shuffled edge list, then one
reachability query (s, t) whose answer needs k hops.

Construction (random, seeded): 3(k + 1) distinct node labels out of ``n_nodes``, arranged in three node-disjoint
chains a_0 -> ... -> a_k, b_0 -> ... -> b_k and c_0 -> ... -> c_k, plus ``extra`` random distractor edges
c_i -> x with x uniform over the a and b nodes. No edge leaves chain a or b for another chain, so the graph is
acyclic, a_0 reaches exactly a_1..a_k, and the shortest path a_0 -> a_k is exactly k hops (chain a has no
shortcuts). The query is (a_0, a_k) (reachable) or (a_0, b_k) (unreachable), each with probability 1/2. The
distractors treat chains a and b alike, so no local feature of the target (in- or out-degree) gives the answer
away: only following the k hops does. Tokens: the query first, then one position per edge, each position three ids whose embeddings are
summed (vocabulary 2n + 2): the query (s, t) is (s, n + t, 2n + 1), edge (x, y) is (x, n + y, 2n), so a query
looks like the edge it asks about apart from its role id. Targets are dense: at every position, whether t is
reachable from s using the edges seen so far (0 at the query itself); the task's answer is the last one, after
the whole edge list, and evaluation reads only that. Length = hops k.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from impl.numerics.errors import InputError, require_positive_int


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


def dag_instance(k: int, n_nodes: int, extra: int, rng: np.random.Generator):
    """One instance: (edges in shuffled order, (s, t), reachable). Shortest path is exactly k when reachable."""
    k = require_positive_int("k", k, 1)
    n_nodes = require_positive_int("n_nodes", n_nodes, 2)
    if n_nodes < 3 * (k + 1):
        raise InputError("n_nodes", f"must be >= 3 (k + 1) = {3 * (k + 1)} for three chains of {k} hops, got {n_nodes}")
    if isinstance(extra, bool) or not isinstance(extra, (int, np.integer)) or extra < 0:
        raise InputError("extra", f"must be an integer >= 0, got {extra!r}")
    labels = rng.permutation(n_nodes)[: 3 * (k + 1)]
    a, b, c = labels[: k + 1], labels[k + 1 : 2 * (k + 1)], labels[2 * (k + 1) :]
    edges = [(ch[i], ch[i + 1]) for ch in (a, b, c) for i in range(k)]
    targets = np.concatenate([a, b])
    cross = set()
    while len(cross) < min(extra, (k + 1) * len(targets)):
        cross.add((c[rng.integers(0, k + 1)], targets[rng.integers(0, len(targets))]))
    edges += sorted(cross)
    edges = [edges[i] for i in rng.permutation(len(edges))]
    reachable = bool(rng.integers(0, 2))
    query = (int(a[0]), int(a[k] if reachable else b[k]))
    return [(int(x), int(y)) for x, y in edges], query, reachable


@dataclass(frozen=True)
class DagBatch:
    tokens: torch.Tensor  # [batch, E + 1, 3] long: the query, then (source, target, role) ids per edge
    targets: torch.Tensor  # [batch, E + 1] long: reachable with the edges up to this position (last = the answer)
    n_nodes: int


def prefix_reachability(edges, s: int, t: int) -> list[int]:
    """[is t reachable from s using edges[:i]] for i = 0..len(edges)."""
    return [int(shortest_hops(edges[:i], s, t) is not None) for i in range(len(edges) + 1)]


def dag_batch(k: int, n_nodes: int, extra: int, batch: int, rng: np.random.Generator) -> DagBatch:
    """``batch`` instances with k hops (same number of edges each, so no padding)."""
    batch = require_positive_int("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng", "must be a numpy.random.Generator (seeded)")
    toks, ys = [], []
    for _ in range(batch):
        edges, (s, t), reach = dag_instance(k, n_nodes, extra, rng)
        toks.append([(s, n_nodes + t, 2 * n_nodes + 1)] + [(x, n_nodes + y, 2 * n_nodes) for x, y in edges])
        labels = prefix_reachability(edges, s, t)
        assert labels[-1] == int(reach)
        ys.append(labels)
    return DagBatch(torch.tensor(toks, dtype=torch.long), torch.tensor(ys, dtype=torch.long), n_nodes)


def vocab_size(n_nodes: int) -> int:
    return 2 * n_nodes + 2
