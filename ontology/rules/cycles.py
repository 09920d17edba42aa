"""Computed KPIs must not depend on themselves through their expression inputs."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from kpi_context.ontology.issues import LoadIssue
from kpi_context.ontology.rules.base import RuleContext, expression_sites

Edges = dict[str, list[tuple[str, tuple[str | int, ...]]]]


class NoComputedCycles:
    """A cycle means no evaluation order exists; a self-reference for a prior period counts too,
    because the engine would need the KPI's own history as an input it cannot compute."""

    name: ClassVar[str] = "no_cycles"

    def check(self, context: RuleContext) -> list[LoadIssue]:
        edges: Edges = {kpi_id: [] for kpi_id in context.by_id}
        for kpi_id, entry in context.by_id.items():
            for site in expression_sites(entry.definition):
                for index, item in enumerate(site.expression.inputs):
                    if item.kpi is not None and item.kpi in edges:
                        edges[kpi_id].append((item.kpi, (*site.pointer, "inputs", index, "kpi")))
        issues = []
        for component in _cycles(edges):
            start = min(component)
            path, pointer = _cycle_through(start, component, edges)
            entry = context.by_id[start]
            issues.append(
                entry.issue(
                    self.name, *pointer, message="computed KPIs depend on each other in a cycle: " + " → ".join(path)
                )
            )
        return issues


def _cycles(edges: Edges) -> list[set[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position][0]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or any(t == node for t, _ in edges[node]):
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(found, key=min)


def _cycle_through(start: str, component: set[str], edges: Edges) -> tuple[list[str], tuple[str | int, ...]]:
    """The shortest cycle from `start` back to itself, and the pointer of its first edge in start's file."""
    previous: dict[str, str] = {}
    queue: deque[str] = deque([start])
    while queue and start not in previous:
        node = queue.popleft()
        for target, _ in edges[node]:
            if target in component and target not in previous:
                previous[target] = node
                queue.append(target)
    path = [start]
    node = previous[start]
    while node != start:
        path.append(node)
        node = previous[node]
    path.append(start)
    path.reverse()
    pointer = next(pointer for target, pointer in edges[start] if target == path[1])
    return path, pointer
