"""A small seeded generator of hostile JSON (hypothesis is not a dependency): random shapes, and mutations
of real payloads so the junk reaches deep into a parser (nulls, arrays where objects belong, huge strings,
wrong types, re-cased keys). Each suite gives it the strings and keys that matter to its parser."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from typing import Any

_ALPHABET = "0123456789abcdefABCDEF+-() .\n\t\u00a0é€😀\ud800\x00"


class HostileJson:
    def __init__(self, rng: random.Random, strings: Sequence[str], keys: Sequence[str], *, max_depth: int = 4):
        self._rng = rng
        self._strings = strings
        self._keys = keys
        self._max_depth = max_depth

    def string(self) -> str:
        rng = self._rng
        roll = rng.random()
        if roll < 0.55:
            return rng.choice(self._strings)
        if roll < 0.6:
            return rng.choice("x9€\ud83d") * rng.choice([5_000, 100_000])
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))

    def _key(self) -> str:
        return self._rng.choice(self._keys) if self._rng.random() < 0.8 else self.string()

    def value(self, depth: int = 0) -> Any:
        rng = self._rng
        makers: list[Callable[[], Any]] = [
            lambda: None,
            lambda: rng.random() < 0.5,
            lambda: rng.choice([0, -1, 1, 2**63, -(2**63), 10**40, rng.randint(-(10**12), 10**16)]),
            lambda: rng.choice([0.5, 1.5, -1e308, 1e308, float("inf"), float("nan")]),
            self.string,
        ]
        if depth < self._max_depth:
            makers += [
                lambda: [self.value(depth + 1) for _ in range(rng.randint(0, 4))],
                lambda: {self._key(): self.value(depth + 1) for _ in range(rng.randint(0, 5))},
            ]
        return rng.choice(makers)()

    def mutate(self, value: Any) -> Any:
        """A copy of `value` with one to three subtrees replaced, deleted, wrapped, nulled or re-cased."""
        value = copy.deepcopy(value)
        for _ in range(self._rng.randint(1, 3)):
            containers = _containers(value)
            if not containers:
                return self.value()
            target = self._rng.choice(containers)
            if isinstance(target, list):
                self._mutate_list(target)
            else:
                self._mutate_dict(target)
        return value

    def _mutate_list(self, target: list[Any]) -> None:
        rng = self._rng
        if not target:
            target.append(self.value())
            return
        index = rng.randrange(len(target))
        action = rng.choice(["replace", "delete", "wrap", "duplicate"])
        if action == "replace":
            target[index] = self.value()
        elif action == "delete":
            del target[index]
        elif action == "wrap":
            target[index] = [target[index]]
        else:
            target.append(copy.deepcopy(target[index]))

    def _mutate_dict(self, target: dict[str, Any]) -> None:
        rng = self._rng
        if not target:
            target[rng.choice(self._keys)] = self.value()
            return
        key = rng.choice(list(target))
        action = rng.choice(["replace", "delete", "wrap", "null", "recase", "string"])
        if action == "delete":
            del target[key]
        elif action == "recase":
            target[key.swapcase()] = target.pop(key)
        elif action == "wrap":
            target[key] = [target[key]]
        elif action == "null":
            target[key] = None
        elif action == "string":
            target[key] = self.string()
        else:
            target[key] = self.value()


def _containers(node: Any) -> list[Any]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict | list):
            found.append(current)
            stack.extend(current.values() if isinstance(current, dict) else current)
    return found
