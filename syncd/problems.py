"""One shape for "everything wrong with this file": configuration, form and workflow definitions
all report every problem at once, one line each, naming the file and the key, so an admin fixes
a file in one pass instead of one error per run."""

from __future__ import annotations

from pydantic import ValidationError


class ProblemsError(Exception):
    """An unusable file; `problems` lists every issue found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def pydantic_problems(where: str, exc: ValidationError, sep: str = ".") -> list[str]:
    """pydantic's errors as `where<sep>key.path: what is wrong` lines, in plain words for the
    two an admin meets most (a misspelt key, a missing one)."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        full = f"{where}{sep}{loc}" if loc else where
        if err["type"] == "extra_forbidden":
            out.append(f"{full}: unknown key")
        elif err["type"] == "missing":
            out.append(f"{full}: required key is missing")
        else:
            out.append(f"{full}: {err['msg'].removeprefix('Value error, ')}")
    return out
