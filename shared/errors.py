"""Errors are values: a code a program can switch on, a detail a person can act on, a field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: str
    detail: str
    field: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"error": self.code, "detail": self.detail, "field": self.field}


class ProblemError(Exception):
    """Raised where a Problem must unwind the stack; views turn it into a 4xx JSON answer."""

    def __init__(
        self, problem: Problem, status: int = 422, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.status = status
        self.headers = headers or {}
