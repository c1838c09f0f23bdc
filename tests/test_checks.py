"""One rule for every argument check: TypeError for a wrong type, ValueError for a wrong value."""
import math

import numpy as np
import pytest

from lesson_lib.checks import check_bool, check_choice, check_int, check_number, is_int, is_number
from lesson_lib.data import get_batch
from lesson_lib.gpt import GPTConfig
from lesson_lib.icl import make_prompt
from lesson_lib.train import TrainConfig


@pytest.mark.parametrize("value, ok", [(3, True), (np.int64(3), True), (np.uint8(3), True),
                                       (True, False), (3.0, False), ("3", False), (None, False)])
def test_what_counts_as_an_int(value, ok):
    assert is_int(value) is ok


@pytest.mark.parametrize("value, ok", [(3, True), (0.5, True), (np.float32(2), True),
                                       (True, False), ("1", False), (None, False)])
def test_what_counts_as_a_number(value, ok):
    assert is_number(value) is ok


def test_check_int_worked_examples():
    assert check_int("n", np.int64(4), min=1) == 4 and type(check_int("n", np.int64(4))) is int
    with pytest.raises(ValueError, match=r"^n_layer must be a positive int, got 0$"):
        check_int("n_layer", 0, min=1)
    with pytest.raises(TypeError, match=r"^n_layer must be a positive int, got float 2\.0$"):
        check_int("n_layer", 2.0, min=1)
    with pytest.raises(ValueError, match=r"^k must be an int in \[0, 8\], got 9$"):
        check_int("k", 9, min=0, max=8)
    with pytest.raises(TypeError, match=r"^top_k must be None or a positive int, got bool True$"):
        check_int("top_k", True, min=1, none_ok=True)
    assert check_int("top_k", None, min=1, none_ok=True) is None


def test_check_number_worked_examples():
    assert check_number("dropout", 0, min=0, max=1, max_open=True) == 0.0
    with pytest.raises(ValueError, match=r"^dropout must be a number in \[0, 1\), got 1$"):
        check_number("dropout", 1, min=0, max=1, max_open=True)
    with pytest.raises(ValueError, match=r"^lr must be a finite number >= 0, got nan$"):
        check_number("lr", math.nan, min=0)
    with pytest.raises(ValueError, match=r"^lr must be a finite number >= 0, got inf$"):
        check_number("lr", math.inf, min=0)
    assert check_number("x", math.inf, finite=False) == math.inf
    with pytest.raises(TypeError,
                       match=r"^temperature must be a finite number >= 0, got str 'hot'$"):
        check_number("temperature", "hot", min=0)
    with pytest.raises(ValueError, match=r"^top_p must be None or a number in \(0, 1\], got 0$"):
        check_number("top_p", 0, min=0, max=1, min_open=True, none_ok=True)


def test_check_bool_and_choice():
    assert check_bool("bias", False) is False
    with pytest.raises(TypeError, match="bias must be True or False, got int 1"):
        check_bool("bias", 1)
    assert check_choice("task", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"task must be one of \['a', 'b'\], got 'c'"):
        check_choice("task", "c", ("a", "b"))


@pytest.mark.parametrize("call", [
    lambda: GPTConfig(vocab_size=10, block_size=8, n_layer=1.0, n_head=1, n_embd=8),
    lambda: TrainConfig(batch_size=2.0),
    lambda: TrainConfig(max_iters="10"),
])
def test_a_float_where_an_int_belongs_is_a_type_error_everywhere(call):
    with pytest.raises(TypeError, match="must be"):
        call()


def test_numpy_ints_are_accepted_everywhere():
    import torch

    cfg = GPTConfig(vocab_size=np.int64(10), block_size=np.int32(8), n_layer=np.int64(1),
                    n_head=1, n_embd=8)
    assert type(cfg.vocab_size) is int and cfg.block_size == 8
    assert TrainConfig(batch_size=np.int64(4)).batch_size == 4
    x, y = get_batch(torch.arange(50), np.int64(4), np.int64(2))
    assert x.shape == (2, 4)
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 8\], got 9"):
        make_prompt(np.int64(9), torch.Generator().manual_seed(0))
    assert len(make_prompt(np.int64(2), torch.Generator().manual_seed(0))[0]) == 1 + 2 * 2 + 1
