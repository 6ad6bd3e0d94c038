"""Nothing in the package executes or unpickles what it reads: scenarios are TOML, datasets parquet and JSON."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "newretail"
FORBIDDEN = [
    r"\bpickle\.loads?\(",
    r"\bjoblib\.load\(",
    r"\bcloudpickle\.",
    r"\bdill\.",
    r"\bmarshal\.loads?\(",
    r"(?<![.\w])eval\(",
    r"(?<![.\w])exec\(",
    r"allow_pickle\s*=\s*True",
    r"read_pickle\(",
    r"yaml\.load\(",
    r"shelve\.open\(",
]


def test_no_unpickling_or_eval_in_the_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        for pattern in FORBIDDEN:
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {match.group(0)}")
    assert not offenders, "\n".join(offenders)


def test_scenarios_are_parsed_as_toml() -> None:
    source = (PACKAGE / "scenario.py").read_text()
    assert "tomllib.loads" in source
