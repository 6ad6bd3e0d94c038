"""Typeset ``results.json`` and the figures into ``paper.pdf`` with Typst (its PyPI package; no command line).

The Typst sources (``paper/*.typ`` and the bibliography) are copied into ``<out>/typst/`` and compiled with the
build folder as Typst's root, so the document reads ``/results.json`` and ``/figures/...`` and nothing outside
the build. The PDF is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from newretail.report.execute import PaperError

__all__ = ["SOURCE", "typeset"]

SOURCE = Path(__file__).resolve().parents[2] / "paper"
SOURCE_SUFFIXES = (".typ", ".bib", ".yml", ".yaml", ".csl")


def typeset(*, out: str | Path, source: str | Path = SOURCE, main: str = "paper.typ") -> Path:
    """Compile ``<source>/<main>`` against ``<out>/results.json`` into ``<out>/paper.pdf``.

    Parameters
    ----------
    out : the paper's build folder, holding ``results.json`` and ``figures/``.
    source : folder of the Typst sources and bibliography (default: the repository's ``paper/``).
    main : the main Typst file in ``source``.
    """
    import typst

    out = Path(out).resolve()
    source = Path(source)
    if not (out / "results.json").is_file():
        raise PaperError(f"{out / 'results.json'} is missing; collect the results first")
    if not (source / main).is_file():
        raise PaperError(f"{source / main}: no such Typst source")
    staged = out / "typst"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        if file.is_file() and file.suffix in SOURCE_SUFFIXES:
            shutil.copy2(file, staged / file.name)
    target = out / "paper.pdf"
    tmp = out / ".paper.pdf.tmp"
    target.unlink(missing_ok=True)
    try:
        typst.compile(str(staged / main), output=str(tmp), root=str(out))
    except typst.TypstError as exc:
        tmp.unlink(missing_ok=True)
        detail = " ".join(str(getattr(exc, "diagnostic", "") or "").split())[:600]
        raise PaperError(f"Typst could not typeset {source / main}: {exc.message}. {detail}") from None
    tmp.replace(target)
    return target
