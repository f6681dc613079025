"""One registry mechanism for the kinds of thing a recipe names (its benchmark client, its workload
shape): entries in order, looked up by their `name`."""

from __future__ import annotations

from typing import ClassVar, Generic, Protocol, TypeVar


class Named(Protocol):
    name: ClassVar[str]


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    def __init__(self, what: str, entries: list[T]):
        self.what, self.entries = what, entries

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def get(self, name: str) -> T:
        found = next((e for e in self.entries if e.name == name), None)
        if found is None:
            raise KeyError(f"no {self.what} {name!r} (known: {', '.join(self.names())})")
        return found

    def register(self, entry: T) -> None:
        """Add one (a test's, or a site's own); its name must be new."""
        if entry.name in self.names():
            raise ValueError(f"a {self.what} named {entry.name!r} exists already")
        self.entries.append(entry)
