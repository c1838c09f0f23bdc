"""Chapter 02 checkers: the solutions pass, the typical mistakes get the right hint."""
import pytest
import torch

from lesson_lib.exercises import ch02


def split_heads(x, n_heads):
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)  # (B, H, T, D)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)  # (B, T, C)


def copy_to_torch(ours, theirs):
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                               ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias,
                                             ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)


def test_split_merge_solution_passes():
    fb = ch02.check_split_merge(split_heads, merge_heads)
    assert fb.passed, fb.message


def _view_merge(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).view(B, T, H * D)


@pytest.mark.parametrize("split,merge,hint", [
    (lambda x, h: x.view(x.shape[0], h, x.shape[1], x.shape[2] // h), merge_heads,
     "H blocks first"),
    (lambda x, h: x.view(x.shape[0], x.shape[1], h, x.shape[2] // h), merge_heads,
     "(B, T, H, D)"),
    (lambda x, h: x.view(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2),
     merge_heads, "every H-th feature"),
    (split_heads, lambda x: x.reshape(x.shape[0], x.shape[2], -1), "straight to (B, T, C)"),
    (split_heads, _view_merge, "contiguous"),
    (split_heads, lambda x: x.transpose(1, 2), "join the last two axes"),
    (lambda x, h: None, merge_heads, "torch.Tensor"),
])
def test_split_merge_hints(split, merge, hint):
    fb = ch02.check_split_merge(split, merge)
    assert not fb.passed and hint in fb.message, fb.message


def test_param_count_solution_passes():
    fb = ch02.check_param_count(lambda C, H, bias=True: 4 * C * C + (4 * C if bias else 0))
    assert fb.passed, fb.message


@pytest.mark.parametrize("wrong,hint", [
    (lambda C, H, bias=True: 3 * C * C, "output projection"),
    (lambda C, H, bias=True: 3 * C * C + (3 * C if bias else 0), "output projection"),
    (lambda C, H, bias=True: 4 * C * C, "forgot the biases"),
    (lambda C, H, bias=True: 4 * C * C + 4 * C, "no biases"),
    (lambda C, H, bias=True: H * (4 * C * C + (4 * C if bias else 0)), "do not multiply"),
    (lambda C, H, bias=True: 4 * C * (C // H) + 4 * C, "changes with H"),
    (lambda C, H, bias=True: None, "None"),
])
def test_param_count_hints(wrong, hint):
    fb = ch02.check_param_count(wrong)
    assert not fb.passed and hint in fb.message, fb.message


def test_copy_to_torch_solution_passes():
    fb = ch02.check_copy_to_torch(copy_to_torch)
    assert fb.passed, fb.message


def _copy(order="qkv", transpose=False, biases=True, out=True):
    def fn(ours, theirs):
        with torch.no_grad():
            ws = [getattr(ours, f"{n}_proj").weight for n in order]
            theirs.in_proj_weight.copy_(torch.cat([w.T if transpose else w for w in ws]))
            if biases:
                theirs.in_proj_bias.copy_(torch.cat([getattr(ours, f"{n}_proj").bias
                                                     for n in order]))
            if out:
                theirs.out_proj.weight.copy_(ours.out_proj.weight)
                theirs.out_proj.bias.copy_(ours.out_proj.bias)
    return fn


def _backwards(ours, theirs):
    with torch.no_grad():
        ours.q_proj.weight.zero_()


@pytest.mark.parametrize("wrong,hint", [
    (_copy(order="kqv"), "[W_q; W_k; W_v]"),
    (_copy(transpose=True), "without .T"),
    (_copy(biases=False), "biases"),
    (_copy(out=False), "output projection"),
    (_backwards, "changed `ours`"),
    (lambda ours, theirs: None, "in_proj_weight (3C, C)"),
])
def test_copy_to_torch_hints(wrong, hint):
    fb = ch02.check_copy_to_torch(wrong)
    assert not fb.passed and hint in fb.message, fb.message


def test_first_try_hints_point_at_the_idea_not_the_code():
    split_first = ch02.check_split_merge(
        lambda x, h: x.view(x.shape[0], h, x.shape[1], x.shape[2] // h), merge_heads)
    assert ".transpose(1, 2)" not in split_first.message, split_first.message
    count_first = ch02.check_param_count(lambda C, H, bias=True: 3 * C * C)
    assert "W^O" not in count_first.message and "four" not in count_first.message
    copy_first = ch02.check_copy_to_torch(_copy(biases=False))
    assert "torch.cat" not in copy_first.message, copy_first.message
