"""Checkers for the chapter exercises.

Each chapter has a module (``ch00``, ``ch01``, ...) whose ``check_*``
functions take the learner's answer (a function, a tensor or a number),
test it against the library's own implementation on fresh inputs, and
return :class:`Feedback`: it prints as a short verdict and, on a wrong
answer, a hint that points at the likely mistake rather than a bare False.

    >>> from lesson_lib.exercises import ch00
    >>> ch00.check_softmax(lambda x: x.exp() / x.exp().sum(-1, keepdim=True))
    ✅ Correct: ...

Solutions live in collapsed cells at the end of each chapter.
"""
from ._core import Feedback, checker

__all__ = ["Feedback", "checker"]
