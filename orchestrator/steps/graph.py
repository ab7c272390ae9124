"""Checks that need the whole campaign: ids, targets, reachability, loops with no pause.

They read the steps as sent, so a step whose shape is broken still takes part by its `id`
and its targets, and each check holds back where another problem leaves it unsure: no
"no path reaches" because a target is misspelt, no loop through a step of unknown type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.conditions import named_steps
from orchestrator.definition_fields import Location
from orchestrator.steps.base import FieldPath, StepBase
from orchestrator.steps.registry import STEP_TYPES

__all__ = ["graph_problems"]

#: Stands for a value the JSON does not have where a step type says it is.
_BROKEN = object()


@dataclass(frozen=True)
class _Node:
    position: int
    data: Mapping[str, Any]
    id: str | None
    #: None for a step of unknown type: it counts by its `id` and its `next` alone.
    kind: type[StepBase] | None

    @property
    def falls_through_at(self) -> str | None:
        return self.kind.falls_through_at if self.kind else "next"


def graph_problems(steps: Any) -> list[tuple[Location, str]]:
    """Every problem of the graph of `steps` (as sent), each with its place."""
    if not isinstance(steps, list) or not steps:
        return []
    nodes = [_node(position, raw) for position, raw in enumerate(steps)]
    found: list[tuple[Location, str]] = []
    positions: dict[str, list[int]] = {}
    for node in nodes:
        if node.id is None:
            continue
        if node.id in positions:
            found.append((("steps", node.position, "id"), f"step id {node.id!r} is used twice"))
        positions.setdefault(node.id, []).append(node.position)
    unique = {node.position for node in nodes if node.id and len(positions[node.id]) == 1}

    edges: dict[int, set[int]] = {}
    #: Steps with a target that names no step (it could be meant for any step), and steps
    #: whose targets cannot be read.
    open_ended: set[int] = set()
    for node in nodes:
        edges[node.position] = set()
        for loc, target in _targets(node):
            if isinstance(target, str) and target in positions:
                edges[node.position].update(positions[target])
                continue
            open_ended.add(node.position)
            if isinstance(target, str):
                found.append((("steps", node.position, *loc), f"no step has the id {target!r}"))
        if node.kind is None:  # not a step, or of no known type: where it leads is unknown
            open_ended.add(node.position)
        field = node.falls_through_at
        if field is not None and node.data.get(field) is None and node.position + 1 < len(nodes):
            edges[node.position].add(node.position + 1)
        found += _reference_problems(node, nodes, positions)

    reached = _reachable(edges)
    if not reached & open_ended:
        found += [
            (("steps", node.position), f"no path reaches step {node.id!r}")
            for node in nodes
            if node.position not in reached and node.position in unique
        ]
    found += _loop_problems(nodes, edges, unique)
    return found


def _node(position: int, raw: Any) -> _Node:
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    step_id, kind = data.get("id"), data.get("type")
    return _Node(
        position,
        data,
        step_id if isinstance(step_id, str) else None,
        STEP_TYPES.get(kind) if isinstance(kind, str) else None,
    )


def _targets(node: _Node) -> Iterator[tuple[Location, Any]]:
    """The steps a step names as where it leads, each with its place in the step."""
    for path in node.kind.target_fields if node.kind else ():
        yield from _walk(node.data, path)
    field = node.falls_through_at
    if field is not None and node.data.get(field) is not None:
        yield (field,), node.data[field]


def _walk(data: Any, path: FieldPath, loc: Location = ()) -> Iterator[tuple[Location, Any]]:
    """The values at `path` in JSON, each with its place; `_BROKEN` where the JSON has
    another shape (pydantic reports that)."""
    if not path:
        yield loc, data
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(data, list):
            yield loc, _BROKEN
            return
        for number, item in enumerate(data):
            yield from _walk(item, rest, (*loc, number))
    elif isinstance(data, Mapping) and head in data:
        yield from _walk(data[head], rest, (*loc, head))
    else:
        yield (*loc, head), _BROKEN


def _reference_problems(
    node: _Node, nodes: list[_Node], positions: dict[str, list[int]]
) -> Iterator[tuple[Location, str]]:
    """Event conditions (`{"event": "click", "step": "mail1"}`) must name a step that makes
    touches."""
    touching = " or ".join(sorted(name for name, kind in STEP_TYPES.items() if kind.makes_touches))
    for path in node.kind.condition_fields if node.kind else ():
        for where, condition in _walk(node.data, path):
            for loc, named in named_steps(condition, where):
                if not isinstance(named, str):
                    continue
                place = ("steps", node.position, *loc)
                kinds = [nodes[position].kind for position in positions.get(named, [])]
                if not kinds:
                    yield place, f"no step has the id {named!r}"
                elif all(kind is not None and not kind.makes_touches for kind in kinds):
                    yield place, f"step {named!r} is not a {touching} step"


def _reachable(edges: dict[int, set[int]]) -> set[int]:
    seen, todo = {0}, [0]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _loop_problems(
    nodes: list[_Node], edges: dict[int, set[int]], unique: set[int]
) -> Iterator[tuple[Location, str]]:
    """A loop the enrollment could run round within one pass. Steps of unknown type and
    steps whose id is used twice are left out: where they lead is not known yet."""
    pauses = " or ".join(sorted(name for name, kind in STEP_TYPES.items() if kind.paces_loops))
    looping = [
        node.position
        for node in nodes
        if node.kind is not None and not node.kind.paces_loops and node.position in unique
    ]
    graph = {position: sorted(edges[position] & set(looping)) for position in looping}
    for component in _strongly_connected(graph):
        if len(component) > 1 or component[0] in graph[component[0]]:
            cycle = _a_cycle(component, graph)
            start = cycle.index(min(cycle))
            cycle = cycle[start:] + cycle[:start]
            path = " → ".join(str(nodes[position].id) for position in [*cycle, cycle[0]])
            yield ("steps", cycle[0]), f"the loop {path} has no {pauses}"


def _strongly_connected(graph: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iteratively (campaigns may have hundreds of steps)."""
    counter = 0
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    for root in graph:
        if root in order:
            continue
        work = [(root, iter(graph[root]))]
        order[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in order:
                    order[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], order[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _a_cycle(component: list[int], graph: dict[int, list[int]]) -> list[int]:
    """A cycle through the component's members, for the message."""
    members = set(component)
    path, seen = [component[0]], {component[0]}
    while True:
        following = next(t for t in graph[path[-1]] if t in members)
        if following in seen:
            return path[path.index(following) :]
        path.append(following)
        seen.add(following)
