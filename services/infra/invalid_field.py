"""A request the client can fix by changing one field, and its 422 answer naming the field."""

from __future__ import annotations

from services.infra.http import ProblemError


class InvalidField(ValueError):
    """Raised by a use case: ``pointer`` names the field of the request (``/text``),
    ``detail`` says what is wrong with it, ``message`` (default: the detail) is the sentence
    the answer's ``detail`` carries."""

    def __init__(self, pointer: str, detail: str, message: str | None = None) -> None:
        super().__init__(f"{pointer}: {detail if message is None else message}")
        self.pointer = pointer
        self.detail = detail

    def problem(self, title: str) -> ProblemError:
        """The handler's answer: 422 ``title``, with the field in ``errors``."""
        errors = [{"pointer": self.pointer, "detail": self.detail}]
        return ProblemError(422, title, str(self), errors=errors)
