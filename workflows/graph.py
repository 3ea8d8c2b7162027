"""A picture of a run's step graph: steps in columns by depth, edges for `needs`."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.models import Step

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 44, 50, 16, 10


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    kind: str
    status: str
    x: int
    y: int
    detail: str


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def step_graph(steps: list[Step]) -> Graph:
    """Lay out the top-level steps; a fanned-out step shows its branches as a count."""
    top = [s for s in steps if s.parent_id is None]
    branches: dict[int, list[Step]] = {}
    for step in steps:
        if step.parent_id is not None:
            branches.setdefault(step.parent_id, []).append(step)
    depth: dict[str, int] = {}
    by_key = {s.key: s for s in top}

    def depth_of(key: str, seen: frozenset[str] = frozenset()) -> int:
        if key not in depth:
            step = by_key[key]
            needs = [n for n in step.needs if n in by_key and n not in seen]
            depth[key] = 1 + max((depth_of(n, seen | {key}) for n in needs), default=-1)
        return depth[key]

    columns: dict[int, list[Step]] = {}
    for step in top:
        columns.setdefault(depth_of(step.key), []).append(step)
    nodes: dict[str, Node] = {}
    for col, members in sorted(columns.items()):
        for row, step in enumerate(members):
            nodes[step.key] = Node(
                key=step.key,
                label=step.key,
                kind=step.kind,
                status=step.status,
                x=PAD + col * (NODE_W + GAP_X),
                y=PAD + row * (NODE_H + GAP_Y),
                detail=_detail(step, branches.get(step.pk, [])),
            )
    edges = [
        Edge(nodes[n].x + NODE_W, nodes[n].y + NODE_H // 2, node.x, node.y + NODE_H // 2)
        for node in nodes.values()
        for n in by_key[node.key].needs
        if n in nodes
    ]
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y) - GAP_Y
    return Graph(list(nodes.values()), edges, width, height)


def _detail(step: Step, branches: list[Step]) -> str:
    if not branches:
        return f"{step.kind} · {step.status}"
    done = sum(1 for b in branches if b.status == Step.Status.SUCCEEDED)
    return f"{step.kind} · {done}/{len(branches)} ✓"
