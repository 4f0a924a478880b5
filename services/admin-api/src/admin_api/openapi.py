"""The ``responses=`` of routes: every problem a route can answer with."""

from typing import Any

from service_kit.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ProblemError,
    Unauthorized,
    Unprocessable,
)


def errors(*extra: type[ProblemError], public: bool = False) -> dict[int | str, dict[str, Any]]:
    """Problems of an authenticated route (401/403/404/422) plus ``extra``."""
    from service_kit.problems import problem_responses

    base: tuple[type[ProblemError], ...] = (
        (Unprocessable,) if public else (Unauthorized, Forbidden, NotFound, Unprocessable)
    )
    return problem_responses(*base, *extra)


LIST_ERRORS = errors(BadRequest)
WRITE_ERRORS = errors(Conflict)
