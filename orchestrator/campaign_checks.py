"""Checks that need the whole campaign: ids, targets, reachability, loops without a wait."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from orchestrator.definitions import (
    AllCondition,
    AnyCondition,
    AnyStep,
    BranchStep,
    CampaignDefinition,
    EventCondition,
    ExitStep,
    NotCondition,
    SendStep,
    SplitStep,
    WaitForEventStep,
    WaitStep,
)
from orchestrator.errors import InvalidInput, problems

__all__ = ["check_campaign", "parse_campaign"]

Location = tuple[str | int, ...]


def parse_campaign(data: Any, *, location: Location = ("body",)) -> CampaignDefinition:
    """A valid campaign from `data`, or InvalidInput listing every problem with its path."""
    try:
        campaign = CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        found = problems(exc.errors(include_url=False, include_input=False))
        for problem in found:
            problem["loc"] = [*location, *problem["loc"]]
        raise InvalidInput(_summary(len(found)), errors=found) from exc
    check_campaign(campaign, location=location)
    return campaign


def check_campaign(campaign: CampaignDefinition, *, location: Location = ("body",)) -> None:
    """Raise InvalidInput listing every problem of the campaign's graph of steps."""
    found = [
        {"loc": [*location, *loc], "msg": msg, "type": "campaign"}
        for loc, msg in _graph_problems(campaign)
    ]
    if found:
        raise InvalidInput(_summary(len(found)), errors=found)


def _summary(count: int) -> str:
    return f"the campaign has {count} problem{'s' if count != 1 else ''}"


def _graph_problems(campaign: CampaignDefinition) -> Iterator[tuple[Location, str]]:
    index: dict[str, int] = {}
    for position, step in enumerate(campaign.steps):
        if step.id in index:
            yield ("steps", position, "id"), f"step id {step.id!r} is used twice"
        else:
            index[step.id] = position

    edges: dict[str, list[str]] = {}
    for position, step in enumerate(campaign.steps):
        targets = []
        for loc, target in _targets(campaign, position, step):
            if target is None:
                continue
            if target not in index:
                yield ("steps", position, *loc), f"no step has the id {target!r}"
            else:
                targets.append(target)
        edges.setdefault(step.id, targets)
        for loc, referenced in _step_references(step):
            if referenced not in index:
                yield ("steps", position, *loc), f"no step has the id {referenced!r}"
            elif not isinstance(campaign.steps[index[referenced]], SendStep):
                yield ("steps", position, *loc), f"step {referenced!r} is not a send step"

    reached = _reachable(campaign.steps[0].id, edges)
    for position, step in enumerate(campaign.steps):
        if step.id not in reached and index.get(step.id) == position:
            yield ("steps", position), f"no path reaches step {step.id!r}"

    waits = {step.id for step in campaign.steps if isinstance(step, WaitStep | WaitForEventStep)}
    for cycle in _cycles_without(waits, edges):
        first = min(cycle, key=lambda step_id: index[step_id])
        start = cycle.index(first)
        cycle = cycle[start:] + cycle[:start]
        path = " → ".join([*cycle, first])
        yield ("steps", index[first]), f"the loop {path} has no wait or wait_for_event"


def _targets(
    campaign: CampaignDefinition, position: int, step: AnyStep
) -> Iterator[tuple[Location, str | None]]:
    """Where a step may lead, with the place in the step that says so."""
    following = campaign.steps[position + 1].id if position + 1 < len(campaign.steps) else None
    if isinstance(step, SendStep | WaitStep):
        yield ("next",), step.next or following
    elif isinstance(step, WaitForEventStep):
        for number, case in enumerate(step.cases):
            yield ("cases", number, "next"), case.next
        yield ("on_timeout",), step.on_timeout or following
    elif isinstance(step, BranchStep):
        for number, branch in enumerate(step.cases):
            yield ("cases", number, "next"), branch.next
        yield ("default",), step.default or following
    elif isinstance(step, SplitStep):
        for number, variant in enumerate(step.variants):
            yield ("variants", number, "next"), variant.next
    else:
        assert isinstance(step, ExitStep)


def _step_references(step: AnyStep) -> Iterator[tuple[Location, str]]:
    """Steps named by event conditions (`{"event": "click", "step": "mail1"}`)."""
    if isinstance(step, WaitForEventStep):
        for number, case in enumerate(step.cases):
            if case.when.step is not None:
                yield ("cases", number, "when", "step"), case.when.step
    elif isinstance(step, BranchStep):
        for number, branch in enumerate(step.cases):
            for loc, condition in _conditions(branch.when, ("cases", number, "when")):
                if isinstance(condition, EventCondition) and condition.step is not None:
                    yield (*loc, "step"), condition.step


def _conditions(condition: Any, loc: Location) -> Iterator[tuple[Location, Any]]:
    yield loc, condition
    if isinstance(condition, AllCondition | AnyCondition):
        key = "all" if isinstance(condition, AllCondition) else "any"
        for number, inner in enumerate(getattr(condition, key)):
            yield from _conditions(inner, (*loc, key, number))
    elif isinstance(condition, NotCondition):
        yield from _conditions(condition.not_, (*loc, "not"))


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _cycles_without(waits: set[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle for each strongly connected group of steps that loops with no wait in it."""
    graph = {
        node: [t for t in targets if t not in waits]
        for node, targets in edges.items()
        if node not in waits
    }
    cycles = []
    for component in _strongly_connected(graph):
        if len(component) > 1 or component[0] in graph.get(component[0], []):
            cycles.append(_a_cycle(component, graph))
    return cycles


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (campaigns may have hundreds of steps)."""
    counter, order, low, on_stack, stack, components = 0, {}, {}, set(), [], []
    for root in graph:
        if root in order:
            continue
        work = [(root, iter(graph.get(root, [])))]
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
                    work.append((successor, iter(graph.get(successor, []))))
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


def _a_cycle(component: list[str], graph: dict[str, list[str]]) -> list[str]:
    """A cycle through the component's members, for the error message."""
    members = set(component)
    path, seen = [component[0]], {component[0]}
    while True:
        following = next(t for t in graph[path[-1]] if t in members)
        if following in seen:
            return path[path.index(following) :]
        path.append(following)
        seen.add(following)
