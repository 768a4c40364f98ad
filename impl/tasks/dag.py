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


def dag_instance(k: int, n_nodes: int, extra: int, rng: np.random.Generator, *, order: str = "shuffled") -> DagInstance:
    """One instance with k-hop chains; see the module docstring."""
    k = require_positive_int("k", k, 1)
    n_nodes = require_positive_int("n_nodes", n_nodes, 2)
    if n_nodes < 3 * (k + 1):
        raise InputError("n_nodes", f"must be >= 3 (k + 1) = {3 * (k + 1)} for three chains of {k} hops, got {n_nodes}")
    if isinstance(extra, bool) or not isinstance(extra, (int, np.integer)) or extra < 0:
        raise InputError("extra", f"must be an integer >= 0, got {extra!r}")
    if order not in ORDERS:
        raise InputError("order", f"must be one of {', '.join(ORDERS)}, got {order!r}")
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


@dataclass(frozen=True)
class DagBatch:
    tokens: torch.Tensor  # [batch, E + 4, 3] long: edges then the four queries
    targets: torch.Tensor  # [batch, 4] long: the answers of the queries, in order
    n_nodes: int
    instances: tuple  # the DagInstance of every row


def dag_batch(k: int, n_nodes: int, extra: int, batch: int, rng: np.random.Generator, *,
              order: str = "shuffled") -> DagBatch:
    """``batch`` instances with k hops (the same number of edges each, so no padding)."""
    batch = require_positive_int("batch", batch, 1)
    if not isinstance(rng, np.random.Generator):
        raise InputError("rng", "must be a numpy.random.Generator (seeded)")
    insts = tuple(dag_instance(k, n_nodes, extra, rng, order=order) for _ in range(batch))
    toks = [encode(i, n_nodes) for i in insts]
    ys = [[int(r) for r in i.answers] for i in insts]
    return DagBatch(torch.tensor(toks, dtype=torch.long), torch.tensor(ys, dtype=torch.long), n_nodes, insts)


def vocab_size(n_nodes: int) -> int:
    return 2 * n_nodes + 2
