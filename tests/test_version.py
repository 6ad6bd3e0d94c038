"""One version everywhere (pyproject's), and the files a researcher needs to reuse and cite the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy
import polars
import pytest
import yaml
from typer.testing import CliRunner

import newretail
from newretail.cli import app
from newretail.notebook import versions

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPORT_TITLE = "AI And Offline Retail: Alibaba's Recipe For Another Smashing Singles' Day"


def test_version_option_prints_the_pyproject_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"newretail {PROJECT['version']}"


def test_version_option_does_not_hide_the_verbs() -> None:
    result = CliRunner().invoke(app, ["scenario", "list"])
    assert result.exit_code == 0 and "singles_day_2017" in result.output


def test_package_version_is_the_installed_metadata_of_pyproject() -> None:
    assert newretail.__version__ == PROJECT["version"]


def test_versions_cell_shows_what_the_modules_say() -> None:
    shown = versions(show=False)
    assert shown["newretail"] == PROJECT["version"]
    assert shown["numpy"] == numpy.__version__ and shown["polars"] == polars.__version__
    assert versions(["no-such-package-xyz"], show=False)["no-such-package-xyz"] == "not installed"


def test_versions_prints_one_line_per_package(capsys: pytest.CaptureFixture[str]) -> None:
    shown = versions(["numpy"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(shown) == 3 and lines[-1].split() == ["numpy", numpy.__version__]


def test_versions_refuses_a_single_string() -> None:
    with pytest.raises(TypeError, match="packages"):
        versions("numpy")


def test_citation_file_names_version_licence_authors_and_the_report() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "license", "type"):
        assert cff.get(key), key
    assert str(cff["version"]) == PROJECT["version"]
    assert cff["license"] == PROJECT["license"] == "MIT"
    assert cff["authors"] == [{"name": "newretail developers"}]
    (report,) = [r for r in cff["references"] if r["title"] == REPORT_TITLE]
    assert report["type"] == "report" and report["authors"]
    assert REPORT_TITLE in (ROOT / "README.md").read_text()  # the title the README quotes


def test_citation_names_no_author_or_date_that_the_source_does_not_state() -> None:
    """The article the project works from quotes an analyst but names no author of the report and no date of it, so
    the citation of the report may carry neither (an invented one would be worse than none)."""
    (report,) = [r for r in yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]]
    for person in report["authors"]:
        assert "family-names" not in person  # the source quotes an analyst but never says who wrote the report
    assert "year" not in report and "date-published" not in report


def test_licence_is_mit_with_the_projects_copyright() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "newretail developers" in text


def test_changelog_has_unreleased_and_the_current_release() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased" and PROJECT["version"] in headings
    unreleased = text.split("## [Unreleased]")[1].split("\n## [")[0]
    assert all(f"(#{n})" in unreleased for n in range(13, 21))
