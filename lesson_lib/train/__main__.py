"""``python -m lesson_lib.train``: the training command line (``lesson_lib.cli``)."""
from ..cli import main

main()
