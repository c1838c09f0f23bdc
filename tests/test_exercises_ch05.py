"""The chapter 05 checkers pass the solutions and name the usual mistakes."""
import pytest
import torch

from lesson_lib.data import BOS, EOS, add_bos_eos, shift_right
from lesson_lib.exercises import ch05


# ------------------------------------------------------------------ exercise 1
def _io(tgt):
    out = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
    return shift_right(out), out


def _eos(tgt):
    return torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)


def test_decoder_io_passes_solution():
    fb = ch05.check_decoder_io(_io)
    assert fb.passed, fb.message


def test_decoder_io_solution_matches_the_docstring_example():
    dec_in, dec_out = _io(torch.tensor([[5, 3, 4]]))
    assert dec_in.tolist() == [[BOS, 5, 3, 4]] and dec_out.tolist() == [[5, 3, 4, EOS]]


@pytest.mark.parametrize("wrong, words", [
    (lambda t: (shift_right(t), t), "EOS is missing"),
    (lambda t: tuple(reversed(_io(t))), "swapped"),
    (lambda t: (_eos(t), _eos(t)), "no shift"),
    (lambda t: (add_bos_eos(t), add_bos_eos(t)), "framed the target"),
    (lambda t: (shift_right(_eos(t), 0), _eos(t)), "starts with PAD"),
    (lambda t: (torch.cat([_eos(t)[:, 1:], torch.full_like(t[:, :1], BOS)], 1), _eos(t)),
     "shifted left"),
    (lambda t: (shift_right(_eos(t)), t), "lacks EOS"),
    (lambda t: (shift_right(_eos(t)), _eos(t) + 1), "decoder target should be"),
    (lambda t: (_eos(t) * 0, _eos(t)), "decoder input should be"),
    (lambda t: None, "None"),
    (lambda t: shift_right(t), "pair"),
    (lambda t: ([1, 2], _eos(t)), "LongTensor"),
    (lambda t: t[5], "raised IndexError"),
])
def test_decoder_io_hints(wrong, words):
    fb = ch05.check_decoder_io(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


# ------------------------------------------------------------------ exercise 2
def _greedy(model, src, max_new_tokens):
    memory = model.encode(src)  # (B, S, C)
    ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)  # (B, 1)
    for _ in range(max_new_tokens):
        logits = model.decode(ys, memory)  # (B, T, V)
        ys = torch.cat([ys, logits[:, -1].argmax(-1, keepdim=True)], dim=1)  # (B, T + 1)
    return ys


def _variant(model, src, n, start=BOS, pick=-1, last_only=False, keep_bos=True, sample=False):
    memory = model.encode(src)
    ys = torch.full((src.shape[0], 1), start, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    for _ in range(n):
        logits = model.decode(ys[:, -1:] if last_only else ys, memory)[:, pick]  # (B, V)
        nxt = torch.multinomial(logits.softmax(-1), 1, generator=g) if sample \
            else logits.argmax(-1, keepdim=True)
        ys = torch.cat([ys, nxt], dim=1)
    return ys if keep_bos else ys[:, 1:]


def test_greedy_decode_passes_solution():
    fb = ch05.check_greedy_decode(_greedy)
    assert fb.passed, fb.message


def test_the_checker_model_makes_the_mistakes_visible():
    """Each wrong loop gives different tokens on the checker's model, so each can be named."""
    model = ch05._model()
    from lesson_lib.data import make_reverse_task
    src, _ = make_reverse_task(3, 6, 13, seed=5)
    with torch.no_grad():
        right = _greedy(model, src, 7)
        assert len(set(right[:, 1:].flatten().tolist())) > 2, "outputs too uniform"
        for kw in (dict(pick=0), dict(last_only=True), dict(start=0)):
            assert not torch.equal(_variant(model, src, 7, **kw), right), kw


@pytest.mark.parametrize("kw, words", [
    (dict(keep_bos=False), "left BOS out"),
    (dict(pick=0), "position 0"),
    (dict(last_only=True), "only the last token"),
    (dict(start=0), "starts from PAD"),
    (dict(sample=True), "argmax"),
])
def test_greedy_decode_hints(kw, words):
    fb = ch05.check_greedy_decode(lambda m, s, n: _variant(m, s, n, **kw))
    assert not fb.passed
    assert words in fb.message, fb.message


def test_greedy_decode_names_other_mistakes():
    fb = ch05.check_greedy_decode(lambda m, s, n: m.greedy_decode(s, n, BOS))
    assert not fb.passed and "switched off" in fb.message, fb.message
    fb = ch05.check_greedy_decode(lambda m, s, n: _greedy(m, s, n + 1))
    assert not fb.passed and "(B, 1 + max_new_tokens)" in fb.message, fb.message
    fb = ch05.check_greedy_decode(lambda m, s, n: None)
    assert not fb.passed and "None" in fb.message

    def encodes_target(model, src, n):
        ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        for _ in range(n):
            logits = model.decode(ys, model.encode(ys))
            ys = torch.cat([ys, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return ys

    fb = ch05.check_greedy_decode(encodes_target)
    assert not fb.passed and "SOURCE" in fb.message, fb.message


# ------------------------------------------------------------------ exercise 3
def _anti(w):
    n = min(w.shape[-2], w.shape[-1])
    i = torch.arange(n)
    return w[..., i, w.shape[-1] - 1 - i].mean(-1)  # (L, B, H)


def _main(w):
    n = min(w.shape[-2], w.shape[-1])
    i = torch.arange(n)
    return w[..., i, i].mean(-1)


def _masses(maps):
    return {k: _anti(w).mean(1).max().item() for k, w in maps.items()}


def test_alignment_masses_passes_solution_and_tensor_values():
    assert ch05.check_alignment_masses(_masses).passed
    fb = ch05.check_alignment_masses(
        lambda maps: {k: _anti(w).mean(1).max() for k, w in maps.items()})
    assert fb.passed, fb.message


def test_alignment_masses_checker_maps_pick_cross():
    masses = _masses(ch05._synthetic_maps())
    assert max(masses, key=masses.get) == "cross"


@pytest.mark.parametrize("wrong, words", [
    (lambda maps: {k: _anti(w).mean().item() for k, w in maps.items()},
     "averaged over layers and heads"),
    (lambda maps: {k: _main(w).mean(1).max().item() for k, w in maps.items()}, "main diagonal"),
    (lambda maps: {k: _main(w).mean().item() for k, w in maps.items()}, "two slips"),
    (lambda maps: {k: _anti(w).max(1).values.max().item() for k, w in maps.items()},
     "largest over the sequences"),
    (lambda maps: {k: _anti(w).max(1).values.mean().item() for k, w in maps.items()}, "swapped"),
    (lambda maps: {k: 0.5 for k in maps}, "should be"),
    (lambda maps: {"cross": 1.0}, "one number for each kind"),
    (lambda maps: {k: _anti(w) for k, w in maps.items()}, "one number"),
    (lambda maps: None, "None"),
    (lambda maps: [1, 2, 3], "dict"),
])
def test_alignment_masses_hints(wrong, words):
    fb = ch05.check_alignment_masses(wrong)
    assert not fb.passed
    assert words in fb.message, fb.message


REAL = {"encoder": 0.11, "decoder_self": 0.12, "cross": 0.69}  # as the trained reverser gives


def _named(name):
    """A pick that answers the argmax, spelled `name` when it is 'cross'."""
    return lambda masses: name if max(masses, key=masses.get) == "cross" else max(
        masses, key=masses.get)


@pytest.mark.parametrize("pick", [
    lambda masses: max(masses, key=masses.get),
    lambda masses: sorted(masses, key=lambda k: masses[k])[-1],
    _named("Cross-attention"),
    _named("encoder-decoder attention"),
])
def test_alignment_attention_passes(pick):
    fb = ch05.check_alignment_attention(pick, dict(REAL))
    assert fb.passed, fb.message


@pytest.mark.parametrize("pick, words", [
    (lambda masses: "cross", "follow from the numbers"),          # typed, not computed
    (lambda masses: min(masses, key=masses.get), "smallest"),
    (lambda masses: max(masses.values()), "not float"),          # the mass, not the kind
    (lambda masses: None, "returns None"),
    (lambda masses: "attention", "not one of the three"),
    (lambda masses: sorted(masses)[0], "follow from the numbers"),  # alphabetical, not by mass
])
def test_alignment_attention_rejects_wrong_picks(pick, words):
    fb = ch05.check_alignment_attention(pick, dict(REAL))
    assert not fb.passed
    assert words in fb.message, fb.message


def test_alignment_attention_needs_the_function_and_the_masses():
    assert "no parentheses" in ch05.check_alignment_attention("cross", dict(REAL)).message
    fb = ch05.check_alignment_attention(lambda m: max(m, key=m.get), {"cross": 1.0})
    assert not fb.passed and "keys" in fb.message


def test_alignment_attention_hints_for_the_wrong_kind():
    swapped = {"encoder": 0.69, "decoder_self": 0.12, "cross": 0.11}
    fb = ch05.check_alignment_attention(lambda m: max(m, key=m.get), swapped)
    assert not fb.passed and "source positions to source positions" in fb.message
    fb = ch05.check_alignment_attention(lambda m: max(m, key=m.get),
                                        {"encoder": 0.1, "decoder_self": 0.7, "cross": 0.2})
    assert not fb.passed and "lower-triangular" in fb.message


def test_first_try_hint_does_not_paste_the_answer():
    fb = ch05.check_alignment_attention(lambda masses: None, dict(REAL))
    assert "max(" not in fb.message and "key=" not in fb.message, fb.message


# ------------------------------------------------------------------ the chapter's diagram
def test_flow_diagram_is_deterministic_and_shipped(tmp_path):
    """tools/draw_transformer_flow.py writes the same bytes twice; the asset is committed."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("draw_transformer_flow",
                                                  root / "tools" / "draw_transformer_flow.py")
    draw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draw)
    first = draw.main(tmp_path / "a.svg").read_bytes()
    second = draw.main(tmp_path / "b.svg").read_bytes()
    assert first == second
    assert first.lstrip().startswith(b"<?xml") and b"<svg" in first and b"<dc:date" not in first
    shipped = root / "assets" / "figures" / "transformer_flow.svg"
    assert shipped.exists() and b"<svg" in shipped.read_bytes()
