"""Chapter 05 checkers: teacher forcing, a greedy decoding loop, where the alignment lives.

Each checker runs the learner's answer on fresh inputs, compares it with
the library (``lesson_lib.data.shift_right``, ``Transformer.greedy_decode``)
and, on a mismatch, rebuilds the usual wrong answers to name the one that
was made: EOS forgotten, no shift or a shift the wrong way, PAD as the start
token, input and target swapped; BOS left out of the result, the logits of
the first position instead of the last, the decoder fed only the last
token, the encoder run on the target; for the alignment measurement, the
main diagonal instead of the anti-diagonal, an average over heads that
hides the one aligned head, a maximum over sequences instead of a mean;
for naming the aligned attention, an answer fixed in advance instead of
computed from the masses (the checker feeds the learner's function masses
of its own).
"""
from __future__ import annotations

import torch

from lesson_lib.data import BOS, EOS, PAD, add_bos_eos, make_reverse_task, shift_right
from lesson_lib.transformer import Transformer

from ._core import Feedback, checker, failed, passed

__all__ = ["check_decoder_io", "check_greedy_decode", "check_alignment_masses",
           "check_alignment_attention"]


def _same(got, want) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want)


def _show(t: torch.Tensor) -> str:
    return str(t.tolist())


# ------------------------------------------------------------------ exercise 1
@checker
def check_decoder_io(fn) -> Feedback:
    """Exercise 1: ``fn(tgt (B, T)) -> (decoder_input, decoder_target)``, both ``(B, T + 1)``.

    The decoder reads ``[BOS, t1, ..., tn]`` and must output ``[t1, ..., tn, EOS]``:
    for ``tgt = [[5, 3, 4]]``, input ``[[1, 5, 3, 4]]`` and target ``[[5, 3, 4, 2]]``.
    """
    tgt = torch.tensor([[5, 3, 4], [7, 7, 6]])  # (B, T) small enough to read in a hint
    out = torch.cat([tgt, torch.full_like(tgt[:, :1], EOS)], dim=1)  # (B, T + 1)
    want_in, want_out = shift_right(out), out  # (B, T + 1) each
    got = fn(tgt.clone())
    if got is None:
        return failed("your function returned None: return a pair (decoder_input, "
                      "decoder_target)")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return failed("return a pair (decoder_input, decoder_target), got "
                      f"{type(got).__name__}")
    got_in, got_out = got
    for name, t in (("decoder_input", got_in), ("decoder_target", got_out)):
        if not isinstance(t, torch.Tensor):
            return failed(f"{name} should be a LongTensor, got {type(t).__name__}")
    if _same(got_in, want_in) and _same(got_out, want_out):
        return passed("the decoder reads BOS + target and learns to say target + EOS: the "
                      "output at position t is the input at position t + 1.")
    framed = add_bos_eos(tgt)  # (B, T + 2)
    wrong = [
        (got_in, got_out, want_out, want_in,
         "input and target are swapped: the decoder READS the sequence that starts with BOS "
         "and must PREDICT the one that ends with EOS"),
        (got_in, got_out, shift_right(tgt), tgt,
         "EOS is missing: append EOS to the target first (so the model learns when to stop), "
         "then shift right, giving T + 1 positions"),
        (got_in, got_out, out, out,
         "input and target are the same sequence: with no shift the model only learns to copy "
         "its input. The input must be the target shifted right by one, starting with BOS"),
        (got_in, got_out, framed, framed,
         "you framed the target with BOS and EOS and used it for both: the input is that "
         "frame without its last token, the target the frame without its first"),
        (got_in, got_out, shift_right(out, PAD), out,
         f"the decoder input starts with PAD = {PAD}; the start token is BOS = {BOS}"),
        (got_in, got_out, torch.cat([out[:, 1:], torch.full_like(tgt[:, :1], BOS)], 1), out,
         "you shifted left: the input must be the target shifted RIGHT, [BOS, t1, ..., tn]"),
    ]
    for g_in, g_out, w_in, w_out, hint in wrong:
        if _same(g_in, w_in) and _same(g_out, w_out):
            return failed(hint)
    if not _same(got_in, want_in):
        return failed(f"for tgt = {_show(tgt)} the decoder input should be "
                      f"{_show(want_in)} = [BOS, t1, ..., tn], got {_show(got_in)}")
    if _same(got_out, tgt):
        return failed("decoder_target lacks EOS: the decoder must learn to end the sequence, "
                      "so its target is [t1, ..., tn, EOS]")
    return failed(f"for tgt = {_show(tgt)} the decoder target should be {_show(want_out)}, "
                  f"got {_show(got_out)}")


# ------------------------------------------------------------------ exercise 2
def _model() -> Transformer:
    """A small untrained encoder-decoder whose greedy outputs vary from step to step."""
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(8)  # a seed whose greedy outputs change along the sequence
        model = Transformer(13, 13, d_model=32, n_heads=2, n_layers=2, d_ff=64, dropout=0.0,
                            max_len=16)
    return model.eval()


def _loop(model, src, n, start=BOS, pick=-1, context="all", memory_from="src"):
    """Greedy decoding with the usual mistakes as switches; returns ys (B, 1 + n)."""
    memory = model.encode(src)  # (B, S, C)
    ys = torch.full((src.shape[0], 1), start, dtype=torch.long)  # (B, 1)
    for _ in range(n):
        if memory_from == "tgt":
            memory = model.encode(ys)  # (B, T, C) the mistake: encoding the target
        inp = ys if context == "all" else ys[:, -1:]  # (B, T) or (B, 1)
        logits = model.decode(inp, memory)  # (B, T, V)
        nxt = logits[:, pick].argmax(-1)  # (B,)
        ys = torch.cat([ys, nxt[:, None]], dim=1)  # (B, T + 1)
    return ys


class _NoShortcut:
    """Stands in for ``greedy_decode`` while the learner's loop runs."""

    def __call__(self, *args, **kwargs):
        raise RuntimeError("greedy_decode is switched off in this exercise: write the loop "
                           "with model.encode and model.decode")


@checker
def check_greedy_decode(fn) -> Feedback:
    """Exercise 2: ``fn(model, src (B, S), max_new_tokens) -> ys (B, 1 + max_new_tokens)``.

    Start from BOS, encode the source once, and at every step run the decoder on
    the whole target so far, take the most likely next token at the LAST position
    and append it; no early stop at EOS.
    """
    model = _model()
    src, _ = make_reverse_task(3, 6, 13, seed=5)  # (B, S)
    n = 7
    with torch.no_grad():
        want = model.greedy_decode(src, n, BOS)  # (B, 1 + n) the library's loop
        model.greedy_decode = _NoShortcut()  # an instance attribute hides the method
        got = fn(model, src.clone(), n)
    if got is None:
        return failed("your function returned None: return ys (B, 1 + max_new_tokens), "
                      "starting with BOS")
    if isinstance(got, (tuple, list)):
        return failed("return the tensor ys alone, not a tuple")
    if not isinstance(got, torch.Tensor):
        return failed(f"ys should be a LongTensor, got {type(got).__name__}")
    if _same(got, want):
        return passed("encode once; then decode the whole target so far, take argmax at the "
                      "last position, append, repeat. That is Transformer.greedy_decode.")
    with torch.no_grad():
        wrong = [
            (want[:, 1:], "you left BOS out of ys: return it at position 0, as greedy_decode "
                          "does (ys has 1 + max_new_tokens columns)"),
            (_loop(model, src, n, pick=0), "you took the logits at position 0 at every step: "
                                           "the next token is predicted by the newest "
                                           "position, the one that has read everything so far"),
            (_loop(model, src, n, context="last"),
             "you fed the decoder only the last token: it must see the whole target so far, "
             "ys, (masked self-attention looks back over it) and you read logits[:, -1]"),
            (_loop(model, src, n, start=PAD), f"the loop starts from PAD = {PAD}; the decoder "
                                              f"was trained to start from BOS = {BOS}"),
            (_loop(model, src, n, memory_from="tgt"),
             "you encoded the target: the encoder runs on the SOURCE, once, and its output "
             "(memory) gives K and V to every decoder layer"),
        ]
    for w, hint in wrong:
        if _same(got, w):
            return failed(hint)
    if got.shape != want.shape:
        return failed(f"ys has shape {tuple(got.shape)}, expected {tuple(want.shape)} = "
                      "(B, 1 + max_new_tokens): BOS, then one token per step, no early stop")
    bad = (got != want).nonzero()[0].tolist()  # the first wrong (row, step)
    return failed(f"row {bad[0]}, position {bad[1]}: you have token {got[bad[0], bad[1]].item()}, "
                  f"the most likely one is {want[bad[0], bad[1]].item()}. Take argmax of the "
                  "last position's logits (no sampling), after decoding the whole ys")


# ------------------------------------------------------------------ exercise 3
def _anti(w: torch.Tensor) -> torch.Tensor:
    """Mean weight on the anti-diagonal of maps (..., Tq, Tk): query i -> key Tk - 1 - i."""
    n = min(w.shape[-2], w.shape[-1])
    i = torch.arange(n)
    return w[..., i, w.shape[-1] - 1 - i].mean(-1)  # (...)


def _main(w: torch.Tensor) -> torch.Tensor:
    n = min(w.shape[-2], w.shape[-1])
    i = torch.arange(n)
    return w[..., i, i].mean(-1)  # (...)


def _synthetic_maps() -> dict:
    """Maps (L=2, B=3, H=2, Tq, Tk) whose right and wrong reductions all differ.

    Cross-attention: layer 1, head 0 mixes a perfect anti-diagonal with a
    uniform map, a different share in each sequence; every other head is
    uniform. The encoder attends to itself (main diagonal); the decoder's
    self-attention is causal and uniform over the allowed prefix.
    """
    T, S = 5, 4  # decoder positions (S + 1, as in the chapter) and source positions
    L, B, H = 2, 3, 2
    cross = torch.full((L, B, H, T, S), 1 / S)
    anti = torch.zeros(T, S)
    anti[torch.arange(S), S - 1 - torch.arange(S)] = 1.0
    anti[S, 0] = 1.0  # the last row (EOS) looks at the first source position
    for b, share in enumerate((1.0, 0.7, 0.4)):
        cross[1, b, 0] = share * anti + (1 - share) / S
    enc = torch.full((L, B, H, S, S), 0.1 / (S - 1))
    enc[..., torch.arange(S), torch.arange(S)] = 0.9
    causal = torch.tril(torch.ones(T, T))
    dec = (causal / causal.sum(-1, keepdim=True)).expand(L, B, H, T, T).clone()
    return {"encoder": enc, "decoder_self": dec, "cross": cross}


def _reduce(maps: dict, diag=_anti, batch="mean", over="max") -> dict:
    out = {}
    for kind, w in maps.items():
        m = diag(w)  # (L, B, H)
        m = m.mean(1) if batch == "mean" else m.max(1).values  # (L, H)
        out[kind] = (m.max() if over == "max" else m.mean()).item()
    return out


@checker
def check_alignment_masses(fn) -> Feedback:
    """Exercise 3, part 1: ``fn(maps) -> {kind: float}``.

    ``maps`` holds ``"encoder"``, ``"decoder_self"`` and ``"cross"`` maps, each
    ``(L, B, H, Tq, Tk)``. For each kind: the anti-diagonal mass of every map,
    averaged over the B sequences, then the largest over layers and heads.
    """
    maps = _synthetic_maps()
    want = _reduce(maps)
    got = fn({k: v.clone() for k, v in maps.items()})
    if got is None:
        return failed("your function returned None: return a dict {kind: mass}")
    if not isinstance(got, dict):
        return failed(f"return a dict {{kind: mass}}, got {type(got).__name__}")
    if set(got) != set(want):
        return failed(f"return one number for each kind of attention {sorted(want)}, "
                      f"got keys {sorted(got)}")
    try:
        values = {k: float(v) for k, v in got.items()}
    except (TypeError, ValueError):
        return failed("each mass should be one number (a float, or a tensor with one element); "
                      "reduce over layers, sequences and heads")

    def same(ref):
        return all(abs(values[k] - ref[k]) < 1e-4 for k in ref)

    if same(want):
        return passed("the mean over sequences keeps what is typical; the maximum over layers "
                      "and heads finds the one head that aligns, even if the others do not.")
    wrong = [
        (_reduce(maps, over="mean"),
         "you averaged over layers and heads too: one head can carry the alignment while the "
         "others do something else, and the average hides it. Average over the sequences "
         "(axis 1), then take the largest over layers and heads"),
        (_reduce(maps, diag=_main),
         "you measured the main diagonal, query i -> key i. In a reversal, output i copies "
         "source position S - 1 - i: the anti-diagonal, w[..., i, Tk - 1 - i]"),
        (_reduce(maps, diag=_main, over="mean"),
         "two slips: the main diagonal instead of the anti-diagonal (key Tk - 1 - i), and an "
         "average over heads that hides the one head that aligns"),
        (_reduce(maps, batch="max"),
         "you took the largest over the sequences too: one lucky sequence then decides. "
         "Average over the sequences (axis 1), and take the largest over layers and heads only"),
        (_reduce(maps, batch="max", over="mean"),
         "the reductions are swapped: average over the sequences (axis 1), and take the "
         "largest over layers and heads"),
    ]
    for ref, hint in wrong:
        if same(ref):
            return failed(hint)
    bad = next(k for k in want if abs(values[k] - want[k]) >= 1e-4)
    return failed(f"on the checker's maps the {bad!r} mass should be {want[bad]:.3f}, got "
                  f"{values[bad]:.3f}: mean anti-diagonal weight per map, mean over sequences, "
                  "largest over layers and heads")


_KINDS = {
    "encoder": "encoder", "encoder_self": "encoder",
    "decoder_self": "decoder_self", "decoder": "decoder_self", "masked": "decoder_self",
    "masked_self": "decoder_self", "cross": "cross", "encoder_decoder": "cross",
}


def _kind(answer):
    """The canonical kind for a learner's string ('Cross-attention' -> 'cross'), else None."""
    key = answer.strip().lower().replace("-", "_").replace(" ", "_").removesuffix("_attention")
    return _KINDS.get(key)


@checker
def check_alignment_attention(pick, masses) -> Feedback:
    """Exercise 3, part 2: ``pick(masses) -> kind``, the kind of attention whose
    anti-diagonal mass is largest; ``masses`` is what ``alignment_masses`` gave for the
    trained reverser. The checker also feeds ``pick`` masses of its own, so the answer
    must be computed from the numbers, not typed.
    """
    if not callable(pick):
        return failed("pass your function pick_alignment itself (no parentheses), not its "
                      "answer: the checker calls it on masses of its own too")
    if not isinstance(masses, dict) or set(masses) != {"encoder", "decoder_self", "cross"}:
        return failed("the second argument should be your masses, a dict with the keys "
                      "'encoder', 'decoder_self' and 'cross' (from alignment_masses(maps500))")
    kinds = ("encoder", "decoder_self", "cross")
    for top in kinds:  # made-up masses, each kind the largest once
        made_up = {k: (0.7 if k == top else 0.2 + 0.1 * i) for i, k in enumerate(kinds)}
        got = pick(dict(made_up))
        if got is None:
            return failed("your function returns None: return the kind whose mass is largest, "
                          "one of the keys of masses, chosen by its value")
        if not isinstance(got, str):
            return failed(f"return the kind, a string such as 'encoder' (a key of masses), not "
                          f"{type(got).__name__} {got!r}")
        if _kind(got) is None:
            return failed(f"{got!r} is not one of the three kinds: 'encoder', 'decoder_self', "
                          "'cross' (the keys of masses)")
        if _kind(got) == _kind(min(made_up, key=made_up.get)) != top:
            return failed("your function picks the kind with the smallest mass; the alignment "
                          "is where the anti-diagonal carries the most weight")
        if _kind(got) != top:
            return failed(f"given the masses {made_up}, your function answered {got!r}: the "
                          "answer must follow from the numbers it is given, not be fixed in "
                          "advance")
    answer = pick(dict(masses))
    kind = _kind(answer)
    if kind == "encoder":
        return failed("the encoder's self-attention relates source positions to source "
                      "positions; the alignment is between what the decoder is writing now "
                      "(a query from the target) and the source symbol it must copy (a key "
                      "from the source). Which attention has queries from one and keys from "
                      "the other? Compare the printed anti-diagonal masses")
    if kind == "decoder_self":
        return failed("the decoder's self-attention is masked: query t sees keys 0..t only, "
                      "so its map is lower-triangular and most of the anti-diagonal lies in "
                      "the masked upper half. Its keys are target tokens, not source symbols")
    if kind != "cross":
        return failed(f"{answer!r} is not one of the three: 'encoder', 'decoder_self', 'cross'")
    return passed("cross-attention: the query of output step t comes from the decoder, the "
                  "keys from the source, and the trained model puts its weight on source "
                  "position S - 1 - t, the anti-diagonal. That is the alignment of §3.2.3.")
