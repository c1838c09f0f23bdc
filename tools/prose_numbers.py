"""Flag numbers in a chapter's prose that the chapter never prints.

Prose must not carry a measured number by hand: a cell prints it, so that
the text cannot drift from what the code measures. This check reads an
*executed* chapter (``build/executed/NN_name.ipynb``, which
``tests/test_notebooks.py`` writes), collects every number its outputs
show and every number its code cells set, and lists each number in a
markdown cell that matches none of them and is not on the allow-list of
cited paper figures (``PAPER`` for every chapter, ``ALLOWED`` per chapter).

    python tools/prose_numbers.py build/executed/03_positional_encoding.ipynb
    python tools/prose_numbers.py            # every executed chapter in CHECKED

A number in prose: ``0.259``, ``4,000``, ``65``, ``96%``, each end of
``3–12``. Not checked: inline code and math, headings, section and
chapter references (``§3.1, §3.3``, ``chapters 07–11``, ``Exercise 3``), years
(1990–2030), numbers glued to letters (``GPT-2``, ``L0``, ``2i``,
``cl100k``), dotted versions and addresses (``2.13.0``, ``127.0.0.1``), and
the integers 0 to 10, which prose uses as counts and indices ("two heads",
"row 0") far more often than as results.

A prose number with d decimals matches a printed one that rounds to it at
d decimals (``0.84`` matches ``0.8412``); a percentage also matches the
fraction (``96%`` matches ``0.96``).

To check another chapter, add its prefix to ``CHECKED`` and its cited
figures, if any, to ``ALLOWED``.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "build" / "executed"

# Chapters whose prose is checked (prefixes of the notebook names).
CHECKED = ("00", "01", "02", "03", "04", "05", "06")

# Figures cited from the papers, allowed in every chapter's prose.
PAPER = {
    "512": "Vaswani et al. 2017: d_model of the base model; GPT-1's context",
    "2048": "Vaswani et al. 2017: d_ff of the base model",
    "64": "Vaswani et al. 2017: d_k = d_v = d_model / h",
    "10000": "Vaswani et al. 2017, §3.5: the base of the sinusoids",
    "4000": "Vaswani et al. 2017, §5.3: warm-up steps",
    "0.1": "Vaswani et al. 2017, §5.4: dropout and label smoothing",
    "0.98": "Vaswani et al. 2017, §5.3: Adam's β₂",
    "0.9": "Vaswani et al. 2017, §5.3: Adam's β₁",
    "65": "Vaswani et al. 2017, Table 3: ~65 M parameters in the base model",
    "100000": "Vaswani et al. 2017: 100,000 training steps; cl100k_base's ~100,000 tokens",
    "37000": "Vaswani et al. 2017, §5.1: ~37,000 shared BPE tokens",
    "40000": "Radford et al. 2018, §4.1: GPT-1's 40,000 merges",
    "50257": "Radford et al. 2019, §2.3: GPT-2's vocabulary",
    "50000": "Radford et al. 2019: GPT-2's ~50,000 merges",
    "1024": "Radford et al. 2019: GPT-2's context of 1,024 tokens",
    "150000": "Unicode: about 150,000 characters",
    "256": "GPT-2 §2.2: a base vocabulary of 256 byte values",
}

# Per chapter: further figures the prose may cite (a paper's, a chapter number in a table),
# with where they come from.
ALLOWED: dict[str, dict[str, str]] = {
    "00": {"11": "the map of chapters: chapter 11", "12": "the map of chapters: chapter 12"},
    "01": {"1000": "a thought experiment: word 1 reaching word 1000",
           "999": "the same thought experiment: 999 hidden states in between"},
    "03": {},
    "05": {"25000": "Vaswani et al. 2017, §5.1: ~25,000 source and target tokens per batch"},
    "06": {"0x80": "UTF-8's code-point boundaries"},
}

NUMBER = re.compile(r"(?<![\w.§/^−-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?!\d|\.\d)(?![\w.]*[A-Za-z_])"
                    r"(\s*%)?")
REFERENCE = re.compile(r"(§|\b(?:chapters?|exercise|table|figure|section|part|step|equation)\s*)$",
                       re.I)
# "§3.1, §3.3", "§3.2–3.3", "§4 and Table 1": a section reference with what continues it.
SECTIONS = re.compile(r"§\s*\d+(?:\.\d+)*(?:\s*(?:,|–|-|and|or)\s*§?\s*\d+(?:\.\d+)*)*")
# "chapter 04", "chapters 07–11", "chapters 01, 02 and 03"; a zero-padded number is a chapter.
CHAPTERS = re.compile(r"(?:\bchapters?\s+\d+|(?<![\d.,])0\d(?![\d.,]))"
                      r"(?:\s*(?:,|–|-|and|or|to)\s*\d+(?![\d.,]))*", re.I)
OUTPUT_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?%?")


def _strip_markdown(text: str) -> str:
    """Markdown without what is not prose: code, math, HTML tags, link targets, headings."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<[^>\n]+>", " ", text)
    text = re.sub(r"\]\([^)\s]*\)", "]", text)
    text = SECTIONS.sub(" ", text)
    text = CHAPTERS.sub(" ", text)
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))


def prose_numbers(text: str) -> list[tuple[str, bool]]:
    """Numbers in prose worth checking, as (text as written, is a percentage).

    Example: "loss 0.259 against 0.238 in §3.5 (GPT-2, 2017), 96% of 4,000 and 3 heads"
    gives [("0.259", False), ("0.238", False), ("96", True), ("4,000", False)].
    """
    text = _strip_markdown(text)
    found = []
    for m in NUMBER.finditer(text):
        whole, frac, pct = m.group(1), m.group(2) or "", m.group(3)
        if REFERENCE.search(text[max(0, m.start() - 12):m.start()]):
            continue
        value = float(whole.replace(",", "") + frac)
        if not frac and value <= 10:
            continue
        if not frac and not pct and "," not in whole and 1990 <= value <= 2030:
            continue  # a year
        found.append((whole + frac, bool(pct)))
    return found


def _numbers_in(text: str) -> set[float]:
    out = set()
    for tok in OUTPUT_NUMBER.findall(text):
        pct = tok.endswith("%")
        try:
            value = abs(float(tok.rstrip("%").replace(",", "")))
        except ValueError:
            continue
        out.add(value)
        if pct:
            out.add(value / 100)
    return out


def output_text(nb: dict) -> str:
    """Everything the chapter printed or displayed as text (HTML and images left out)."""
    parts = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(_join(out.get("text", "")))
            data = out.get("data", {})
            for kind in ("text/plain", "text/markdown"):
                if kind in data:
                    parts.append(_join(data[kind]))
    return "\n".join(parts)


def code_text(nb: dict) -> str:
    """The code cells' source, with Python's digit separators removed (200_000 -> 200000)."""
    src = "\n".join(_join(c.get("source", "")) for c in nb.get("cells", [])
                    if c.get("cell_type") == "code")
    return re.sub(r"(?<=\d)_(?=\d)", "", src)


def _join(text) -> str:
    return text if isinstance(text, str) else "".join(text)


def _matches(written: str, pct: bool, known: set[float]) -> bool:
    value = float(written.replace(",", ""))
    decimals = len(written.split(".")[1]) if "." in written else 0
    wanted = [(value, decimals)] + ([(value / 100, decimals + 2)] if pct else [])
    return any(abs(round(k, d) - w) < 10 ** -(d + 6) for k in known for w, d in wanted)


def unexplained(nb: dict, chapter: str = "") -> list[str]:
    """Each prose number of ``nb`` that no output shows, no code sets and no allow-list cites."""
    allowed = {**PAPER, **ALLOWED.get(chapter, {})}
    allowed_values = {float(k.replace(",", "")) for k in allowed if not k.startswith("0x")}
    known = _numbers_in(output_text(nb)) | _numbers_in(code_text(nb)) | allowed_values
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        text = _join(cell.get("source", ""))
        for written, pct in prose_numbers(text):
            if not _matches(written, pct, known):
                where = cell.get("id", f"#{i}")
                line = next((ln.strip() for ln in text.splitlines() if written in ln), "")
                problems.append(f"cell {i} ({where}): {written}{'%' if pct else ''} appears in no "
                                f"output: {line[:100]!r}")
    return problems


def check_file(path: Path) -> list[str]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return unexplained(nb, Path(path).name[:2])


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(
        p for p in EXECUTED.glob("[0-9][0-9]_*.ipynb") if p.name[:2] in CHECKED)
    if not paths:
        print(f"no executed chapters in {EXECUTED}: run tests/test_notebooks.py first")
        return 1
    bad = 0
    for path in paths:
        for line in check_file(path):
            print(f"{path.name}: {line}")
            bad += 1
    print(f"{bad} number(s) in prose that no output shows" if bad else
          f"every number in the prose of {len(paths)} chapter(s) is printed, set by code or cited")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
