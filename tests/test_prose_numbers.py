"""tools/prose_numbers.py: a number in a chapter's prose must be printed by the chapter.

The check itself runs on every executed chapter in tests/test_notebooks.py; here it
is tested on small notebooks made by hand, so that each way it can fail is seen to fail.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import prose_numbers  # noqa: E402


def notebook(prose, printed="", code="x = 1"):
    return {"cells": [
        {"cell_type": "markdown", "id": "m", "source": prose, "metadata": {}},
        {"cell_type": "code", "id": "c", "source": code, "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": printed}]},
    ]}


def test_extraction_example_from_the_docstring():
    found = prose_numbers.prose_numbers(
        "loss 0.259 against 0.238 in §3.5 (GPT-2, 2017), 96% of 4,000 and 3 heads")
    assert found == [("0.259", False), ("0.238", False), ("96", True), ("4,000", False)]


@pytest.mark.parametrize("prose", [
    "see chapter 04, Exercise 3 and Table 1", "`scores = 0.84 * x`", "$d_k = 1024$",
    "layer L12, head H15, pair 2i", "GPT-4 and cl100k_base", "in 2017", "## Section 42",
    "two heads, row 0, 4 layers", "| FFN, Add & Norm | §3.1, §3.3 | 04 |", "2018, §3.2–3.3",
    "Chapters 07–11 keep the decoder", "chapters 12 and 13", "voila on 127.0.0.1, torch 2.13.0",
])
def test_what_is_not_checked(prose):
    assert prose_numbers.prose_numbers(prose) == []


def test_a_typed_number_that_no_output_shows_is_flagged():
    problems = prose_numbers.unexplained(notebook("the weight is 0.84 against 0.03",
                                                  printed="weights: 0.27 0.31"))
    assert len(problems) == 2 and "0.84" in problems[0] and "0.03" in problems[1]


def test_a_printed_number_passes_at_the_precision_written():
    nb = notebook("the weight is 0.84, about 12% of 1,530",
                  printed="w = 0.8412, share 0.1203, n = 1530")
    assert prose_numbers.unexplained(nb) == []
    nb = notebook("the weight is 0.85", printed="w = 0.8412")
    assert prose_numbers.unexplained(nb)


def test_numbers_set_by_the_code_and_paper_figures_pass():
    nb = notebook("we train 1,024 merges on 200,000 characters; the paper's d_ff is 2048",
                  code="bpe = train(text[:200_000], 256 + 1024)")
    assert prose_numbers.unexplained(nb) == []


def test_the_chapter_allow_list_applies_to_its_chapter_only():
    nb = notebook("the paper used about 25,000 tokens per batch")
    assert prose_numbers.unexplained(nb, "05") == []
    assert prose_numbers.unexplained(nb, "03")


def test_html_and_images_do_not_count_as_printed():
    nb = notebook("the score is 0.77")
    nb["cells"][1]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                  "data": {"text/html": "<b>0.77</b>", "image/png": "AAAA"}}]
    assert prose_numbers.unexplained(nb)


def test_checked_chapters_exist_and_include_00_to_06():
    names = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert set(prose_numbers.CHECKED) <= names
    assert {"00", "01", "02", "03", "04", "05", "06"} <= set(prose_numbers.CHECKED)


def test_command_line_fails_on_a_flagged_chapter(tmp_path, capsys):
    import json

    path = tmp_path / "03_demo.ipynb"
    path.write_text(json.dumps(notebook("accuracy 0.259", printed="accuracy 0.301")))
    assert prose_numbers.main([str(path)]) == 1
    assert "0.259" in capsys.readouterr().out
    path.write_text(json.dumps(notebook("accuracy 0.301", printed="accuracy 0.301")))
    assert prose_numbers.main([str(path)]) == 0
