"""Composite jobs: work made of several units of work, or of file work around them (key rotation,
purge, backup, a pipeline run), declared by name.

Over the data server (issue 19) the client names the job and the server runs it, alone; with an
embedded session it runs where it is called.  Below the workspace, so that rotation (which the
workspace builds on) can declare itself one without a circle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["COMPOSITES", "PATH_ARGUMENTS", "SHARED_COMPOSITES", "composite"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

#: Jobs made of several units of work or of file work around them (key rotation, purge, backup),
#: by name: over the data server the client names the job and the server runs it, alone.
COMPOSITES: dict[str, Callable[..., Any]] = {}
#: Composites that do not need the file alone (a pipeline run, a folder of answer packages): the
#: server runs them beside everything else, each of their units queued as any other.
SHARED_COMPOSITES: set[str] = set()
#: For a service or composite, the arguments that name files or folders the server would read or
#: write: over the channel they must lie in an exchange folder (``workbench.core.exchange``).
PATH_ARGUMENTS: dict[str, tuple[str, ...]] = {}


def composite(name: str, *, exclusive: bool = True, paths: tuple[str, ...] = ()
              ) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Declare a job that needs the workspace itself, not one unit of work.  Called with a session
    of the data server's client, it runs in the server (which holds the file alone meanwhile, unless
    ``exclusive=False``); with an embedded session, here, as before.  ``paths`` names the arguments
    that are files or folders the server would read or write (see :data:`PATH_ARGUMENTS`)."""

    def decorate(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        if name in COMPOSITES:
            raise RuntimeError(f"duplicate composite {name}")
        COMPOSITES[name] = fn
        if not exclusive:
            SHARED_COMPOSITES.add(name)
        if paths:
            PATH_ARGUMENTS[name] = paths

        @functools.wraps(fn)
        def call(session: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            forward = getattr(session, "forward_composite", None)
            if forward is not None:
                return forward(name, args, kwargs)  # type: ignore[no-any-return]
            return fn(session, *args, **kwargs)

        return call

    return decorate
