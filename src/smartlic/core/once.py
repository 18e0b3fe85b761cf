"""A value computed on first access and kept on the instance.

``functools.cached_property`` of Python 3.11 takes one lock per property, shared by every
instance, for each first access: the threads of a worker that serve requests at once (every
envelope's payload bytes, every key's loaded form) queued on it. The values kept here are pure
functions of frozen fields, so two threads computing one at once is harmless and no lock is
needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class once(Generic[T]):
    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> once[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | once[T]:
        if obj is None:
            return self
        value = self.func(obj)
        # A non-data descriptor: once stored, the instance's own attribute is found first.
        obj.__dict__[self.name] = value
        return value
