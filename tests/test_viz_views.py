"""The visualizer's plotly views draw exactly the tensors they are given.

Each view is checked against its input: trace counts, the numbers in each
trace, slider and button steps, titles, figure sizes and font sizes (the
presentation mode must read from the back row), and the error a bad call
gets. Plus the model-side helpers (``lesson_lib.lens``) against
``GPT.forward``, the training callback that records attention, and the
``layers=`` labels of ``attention_grid``.
"""
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lesson_lib import lens, viz  # noqa: E402
from lesson_lib.gpt import GPT, GPTConfig  # noqa: E402
from lesson_lib.train import TrainConfig, train  # noqa: E402

pytest.importorskip("plotly")

from plotly.colors import sample_colorscale  # noqa: E402

from lesson_lib.viz.head_lines import N_BINS  # noqa: E402
from lesson_lib.viz.palette import LINE_COLOURS, MUTED  # noqa: E402

TOKENS = ["The", "cat", "sat", "on", "the", "cat"]


def _weights(*shape, seed=0, causal=False):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(*shape, generator=g)
    if causal:
        T = shape[-1]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1)


def _tiny_gpt(seed=0, vocab=11, block=16, n_layer=2, n_head=2):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab, block, n_layer=n_layer, n_head=n_head, n_embd=16))


def _fonts(fig):
    """Every font size set anywhere in a figure (layout and traces), e.g. ``tickfont.size``."""
    sizes = []

    def walk(obj, key=""):
        if isinstance(obj, dict):
            if key.endswith("font") and isinstance(obj.get("size"), (int, float)):
                sizes.append(obj["size"])
            for k, v in obj.items():
                walk(v, k)
        elif isinstance(obj, list):
            for item in obj:
                walk(item, key)

    walk(fig.to_plotly_json())
    return sizes


# ---------------------------------------------------------------- presentation mode
def test_merge_attention_hand_example():
    w = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]
    merged = viz.merge_attention(w, [0, 0, 1])
    np.testing.assert_allclose(merged, [[1.0, 0.0], [0.5, 0.5]])


def test_merge_attention_rows_still_sum_to_one():
    text = "Romeo, Romeo! wherefore art thou Romeo?"
    groups, labels, _ = viz.word_groups(list(text))
    assert labels == ["Romeo", ",", "Romeo", "!", "wherefore", "art", "thou", "Romeo", "?"]
    w = _weights(2, 3, len(text), len(text), causal=True).double()
    w = w / w.sum(-1, keepdim=True)  # rows sum to 1 in float64
    merged = viz.merge_attention(w.numpy(), groups)
    assert merged.shape == (2, 3, len(labels), len(labels))
    np.testing.assert_allclose(merged.sum(-1), 1.0, atol=1e-12)
    # sum over the key characters of a word, mean over its query characters
    first = [i for i, g in enumerate(groups) if g == 0]
    expected = w[1, 2][first][:, first].sum(-1).mean()
    assert merged[1, 2, 0, 0] == pytest.approx(float(expected))
    assert np.allclose(np.triu(merged, 1), 0)  # causal stays causal between words


@pytest.mark.parametrize("tokens, groups, labels, breaks", [
    (list("to be,\nor"), [0, 0, 1, 1, 1, 2, 3, 3, 3], ["to", "be", ",", "or"],
     [False, False, False, True]),
    ([" the", " cat", "s", " sat", "."], [0, 1, 1, 2, 3], ["the", "cats", "sat", "."],
     [False] * 4),
    (list("hi  "), [0, 0, 0, 0], ["hi"], [False]),  # trailing spaces join the last word
    (list("don't stop"), [0] * 5 + [1] * 5, ["don't", "stop"], [False, False]),
    (["a", "", "b"], [0, 0, 0], ["ab"], [False]),
    (["東京", "で"], [0, 0], ["東京で"], [False]),
])
def test_word_groups(tokens, groups, labels, breaks):
    assert viz.word_groups(tokens) == (groups, labels, breaks)


def test_merge_attention_bad_groups():
    with pytest.raises(ValueError, match=r"groups must be 3 ints"):
        viz.merge_attention(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match=r"every index 0\.\.G-1"):
        viz.merge_attention(np.eye(3), [0, 2, 2])
    with pytest.raises(ValueError, match=r"\(\.\.\., T, T\)"):
        viz.merge_attention(np.ones((3, 4)), [0, 1, 2])


def _presentation_case(T_text="But soft, what light through yonder window breaks"):
    w = _weights(2, 3, len(T_text), len(T_text), causal=True)
    return w, T_text


def test_presentation_is_a_readable_slide():
    w, text = _presentation_case()
    fig = viz.presentation_attention(w, text)
    assert (fig.layout.width, fig.layout.height) == (1280, 720)
    sizes = _fonts(fig)
    assert sizes and min(sizes) >= 18, sorted(sizes)[:5]
    assert fig.layout.uniformtext.minsize >= 18  # plotly never shrinks box text below it
    assert fig.layout.font.size >= 18
    boxes = [t for t in fig.data if t.type == "bar"]
    assert len(boxes) == 2 * 3  # one trace of word boxes per (layer, head)
    assert [list(t.meta) for t in boxes] == [[lyr, hd] for lyr in range(2) for hd in range(3)]
    assert [t.visible for t in boxes] == [True] + [False] * 5
    assert list(boxes[0].text) == ["But", "soft", ",", "what", "light", "through", "yonder",
                                   "window", "breaks"]
    scale = fig.data[-1].marker
    assert scale.showscale and scale.colorscale[0][1].lower() in ("#440154", "rgb(68,1,84)")


def test_presentation_colours_are_the_merged_weights():
    w, text = _presentation_case()
    groups, labels, _ = viz.word_groups(list(text))
    merged = viz.merge_attention(w.numpy(), groups)
    fig = viz.presentation_attention(w, text, layer=1, head=2, query=4)
    boxes = [t for t in fig.data if t.type == "bar"]
    assert [t.visible for t in boxes] == [False] * 5 + [True]
    assert fig.layout.sliders[1].active == 5 and fig.layout.sliders[0].active == 4
    viridis = sample_colorscale("Viridis", np.linspace(0, 1, 101).tolist())
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == labels
    for q in (0, 4, len(labels) - 1):
        colours = steps[q].args[0]["marker.color"][5]  # layer 1, head 2
        for k, colour in enumerate(colours):
            if k > q:  # a later word: masked in a causal model
                assert colour == MUTED
            else:
                assert colour == viridis[round(math.sqrt(merged[1, 2, q, k]) * 100)]
        tip = steps[q].args[0]["hovertext"][5][0]
        assert f"{merged[1, 2, q, 0]:.2f}" in tip
        assert steps[q].args[1]["annotations[0].text"] == f"Where does “{labels[q]}” look?"
    head_steps = fig.layout.sliders[1].steps
    assert len(head_steps) == 6 and head_steps[4].label == "layer 1 · head 1"
    assert head_steps[4].args[0]["visible"] == [k == 4 for k in range(6)] + [True]


def test_presentation_keeps_at_most_max_tokens_words():
    text = " ".join(f"w{i}" for i in range(40))
    fig = viz.presentation_attention(_weights(len(text), len(text), causal=True), text)
    assert len(fig.data) == 2  # one head, and the colourbar
    assert len(fig.data[0].text) == 32 and fig.data[0].text[-1] == "w39"
    assert fig.data[0].text[0] == "w8"
    assert "words 9–40 of 40" in fig.layout.title.text
    assert len(fig.layout.sliders) == 1  # a single head has no head slider


def test_presentation_bpe_tokens_without_merging():
    tokens = [" the", " cat", " sat"]
    fig = viz.presentation_attention(_weights(3, 3, causal=True), tokens, words=False)
    assert list(fig.data[0].text) == [" the", " cat", " sat"]
    fig = viz.presentation_attention(_weights(3, 3, causal=True), ["a", "\n", " "], words=False)
    assert list(fig.data[0].text) == ["a", "\\n", "␣"]


@pytest.mark.parametrize("call, error, match", [
    (lambda: viz.presentation_attention(_weights(5, 5), "abcd"), ValueError, r"4 query tokens"),
    (lambda: viz.presentation_attention(_weights(2, 2, 3, 3), "abc", layer=2), ValueError,
     r"layer \(of 2\).*got 2"),
    (lambda: viz.presentation_attention(_weights(3, 3), "abc", max_tokens=0), ValueError,
     r"max_tokens"),
    (lambda: viz.presentation_attention(_weights(1, 1, 1, 3, 3), "abc"), ValueError,
     r"attn\[:, 0\]"),
])
def test_presentation_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- model view
def test_model_view_one_heatmap_per_head():
    w = _weights(3, 4, 6, 6)
    fig = viz.model_view(w, TOKENS)
    assert len(fig.data) == 12 and all(t.type == "heatmap" for t in fig.data)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"layer {lyr} · head {hd}" for lyr in range(3) for hd in range(4)]
    for k, trace in enumerate(fig.data):
        layer, head = divmod(k, 4)
        np.testing.assert_allclose(np.asarray(trace.z), w[layer, head].numpy(), rtol=1e-6)
        assert trace.coloraxis == "coloraxis"  # one colour scale for every head
        assert trace.name == f"layer {layer} · head {head}"
    assert fig.layout.width <= 1280 and fig.layout.height <= 720
    assert fig.layout.coloraxis.cmin == 0
    small = viz.model_view(_weights(5, 6, 6, 6), TOKENS)  # thumbnails under 150 px
    assert [a.text for a in small.layout.annotations][:2] == ["L0 H0", "L0 H1"]
    assert len(small.data) == 30 and small.layout.height <= 720


def test_model_view_names_the_real_layers_of_a_slice():
    fig = viz.model_view(_weights(2, 1, 6, 6), TOKENS, layers=[4, 5], width=2400, height=2400)
    assert [a.text for a in fig.layout.annotations] == ["layer 4 · head 0", "layer 5 · head 0"]


@pytest.mark.parametrize("weights, tokens, match", [
    (_weights(4, 6, 6), TOKENS, r"\(L, H, Tq, Tk\), got shape \(4, 6, 6\).*weights\[None\]"),
    (_weights(2, 1, 4, 6, 6), TOKENS, r"attn\[:, 0\]"),
    (_weights(2, 4, 6, 6), TOKENS[:5], r"5 query tokens.*need 6"),
])
def test_model_view_bad_input(weights, tokens, match):
    with pytest.raises(ValueError, match=match):
        viz.model_view(weights, tokens)


# ---------------------------------------------------------------- head view
def test_head_view_lines_are_the_weights():
    w = _weights(2, 3, 6, 6, causal=True)
    fig = viz.head_view(w, TOKENS, layer=1, min_weight=0.05)
    assert len(fig.data) == 2 + 3 * (N_BINS + 1)
    assert list(fig.data[0].text) == TOKENS and list(fig.data[1].text) == TOKENS
    for head in range(3):
        lines = [t for t in fig.data[2:] if t.meta == head and t.mode == "lines"]
        assert len(lines) == N_BINS
        drawn = set()
        for k, trace in enumerate(lines):
            xs, ys = list(trace.x), list(trace.y)
            pairs = {(ys[i], ys[i + 1]) for i in range(0, len(ys), 3)}
            for i, j in pairs:  # query i -> key j, weight in bin k
                assert xs[:2] == [0.0, 1.0]
                top = (k + 1) / N_BINS if k < N_BINS - 1 else math.inf
                assert max(k / N_BINS, 0.05) <= w[1, head, i, j] < top
            drawn |= pairs
            assert trace.opacity == pytest.approx((k + 1) / N_BINS)
            assert trace.line.color == LINE_COLOURS[head]
        expected = {(i, j) for i in range(6) for j in range(6) if w[1, head, i, j] >= 0.05}
        assert drawn == expected
        assert all(j <= i for i, j in drawn)  # causal: no line to a later token


def test_head_view_buttons_show_one_head_or_all():
    fig = viz.head_view(_weights(1, 2, 6, 6), TOKENS, 0)
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["head 0", "head 1", "all heads"]
    heads = [t.meta for t in fig.data]
    for h, button in enumerate(buttons[:2]):
        shown = [m for m, v in zip(heads, button.args[0]["visible"]) if v]
        assert shown == [None, None] + [h] * (N_BINS + 1)
        assert button.args[1]["title.text"].endswith(f"(head {h})")
    assert all(buttons[2].args[0]["visible"])
    assert "Layer 0" in fig.layout.title.text


@pytest.mark.parametrize("call, error, match", [
    (lambda: viz.head_view(_weights(2, 2, 6, 6), TOKENS, 2), ValueError, r"layer \(of 2\)"),
    (lambda: viz.head_view(_weights(2, 2, 6, 6), TOKENS, 1.0), TypeError, r"layer"),
    (lambda: viz.head_view(_weights(2, 6, 6), TOKENS, 0), ValueError, r"weights\[None\]"),
    (lambda: viz.head_view(_weights(1, 2, 6, 6), "abcdef", 0), TypeError, r"list\(text\)"),
])
def test_head_view_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- loss strip
def test_loss_strip_colours_each_token_by_its_loss():
    losses = torch.tensor([float("nan"), 0.5, 3.0, 1.25, 0.0, 2.0])
    fig = viz.loss_strip(losses, TOKENS)
    scored, unscored = fig.data
    assert list(scored.text) == TOKENS[1:] and list(unscored.text) == TOKENS[:1]
    np.testing.assert_allclose(scored.marker.color, losses[1:].numpy())
    assert scored.marker.cmax == 3.0 and scored.marker.cmin == 0.0
    assert list(unscored.marker.color) == [MUTED]
    assert "p = 0.050" in scored.hovertext[1]  # exp(-3)
    assert [round(b) for b in scored.base[:2]] != [0, 0]  # boxes follow each other


def test_loss_strip_wraps_long_text_and_breaks_at_newlines():
    tokens = list("ab\ncd" * 40)
    fig = viz.loss_strip(torch.rand(len(tokens)), tokens, width=400)
    ys = list(fig.data[0].y)
    assert ys[0] == 0 and ys[3] == 1  # 'c' starts a new line after the newline
    assert max(ys) >= 40
    assert "↵" in list(fig.data[0].text)


@pytest.mark.parametrize("losses, tokens, error, match", [
    (torch.rand(5), TOKENS, ValueError, r"5 losses for 6 tokens.*NaN first"),
    (torch.rand(7), TOKENS, ValueError, r"7 losses for 6 tokens"),
    (torch.rand(2, 6), TOKENS, ValueError, r"\(T,\).*\(2, 6\)"),
    (torch.tensor([1.0, -0.5, 1, 1, 1, 1]), TOKENS, ValueError, r">= 0.*-0\.5"),
    (torch.rand(6), "abcdef", TypeError, r"list\(text\)"),
])
def test_loss_strip_bad_input(losses, tokens, error, match):
    with pytest.raises(error, match=match):
        viz.loss_strip(losses, tokens)


# ---------------------------------------------------------------- logit lens
def test_logit_lens_writes_the_top_guess_of_each_layer():
    vocab = [f"t{i}" for i in range(11)]
    logits = torch.randn(3, 6, 11, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([1, 2, 3, 4, 5, 6])
    fig = viz.logit_lens(logits, TOKENS, vocab, ids=ids, k=3)
    top, real = fig.data
    probs = logits.softmax(-1)
    assert list(top.y) == ["embedding", "block 0", "block 1"]
    np.testing.assert_allclose(np.asarray(top.z), probs.max(-1).values.numpy(), rtol=1e-6)
    expected = [[vocab[int(i)] for i in row] for row in logits.argmax(-1)]
    assert [list(r) for r in top.text] == expected
    real_z = np.asarray(real.z, dtype=float)
    for t in range(5):
        np.testing.assert_allclose(real_z[:, t], probs[:, t, ids[t + 1]].numpy(), rtol=1e-6)
    assert np.isnan(real_z[:, 5]).all()  # nothing follows the last token
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.args[0]["visible"] for b in buttons] == [[True, False], [False, True]]
    assert top.hovertext[2][0].count("<br>") == 4  # a header, 3 guesses, the real next


def test_logit_lens_decoders_agree():
    from lesson_lib.tokenizers import CharTokenizer

    tok = CharTokenizer.from_text("abcdefghijk")
    logits = torch.randn(2, 4, 11)
    names = [viz.logit_lens(logits, list("abcd"), d).data[0].text
             for d in (tok, tok.chars, lambda i: tok.chars[i])]
    assert [list(map(list, n)) for n in names[1:]] == [list(map(list, names[0]))] * 2
    assert len(viz.logit_lens(logits, list("abcd"), tok).data) == 1  # no ids: no second colour


@pytest.mark.parametrize("logits, decode, kw, error, match", [
    (torch.randn(2, 3, 4, 5), list("abcde"), {}, ValueError, r"\(L \+ 1, T, V\).*\[:, 0\]"),
    (torch.randn(2, 5), list("abcde"), {}, ValueError, r"\(L \+ 1, T, V\)"),
    (torch.randn(2, 6, 5), list("abc"), {}, ValueError, r"3 entries.*V=5"),
    (torch.randn(2, 6, 5), 42, {}, TypeError, r"decode must be"),
    (torch.randn(2, 6, 5), list("abcde"), {"ids": [1, 2]}, ValueError, r"6 integer input ids"),
    (torch.randn(2, 6, 5), list("abcde"), {"ids": [9] * 6}, ValueError, r"\[0, 5\)"),
    (torch.full((2, 6, 5), float("nan")), list("abcde"), {}, ValueError, r"NaN"),
])
def test_logit_lens_bad_input(logits, decode, kw, error, match):
    with pytest.raises(error, match=match):
        viz.logit_lens(logits, TOKENS, decode, **kw)


# ---------------------------------------------------------------- model-side helpers
def test_layer_logits_ends_at_the_models_logits():
    model = _tiny_gpt().train()
    idx = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(1))
    out = lens.layer_logits(model, idx)
    assert out.shape == (3, 2, 9, 11)
    assert model.training  # the mode is restored
    model.eval()
    torch.testing.assert_close(out[-1], model(idx)[0])
    with torch.no_grad():
        x0 = model.wte(idx) + model.wpe(torch.arange(9))
        torch.testing.assert_close(out[0], model.lm_head(model.ln_f(x0)))
    assert lens.layer_logits(model, idx[0]).shape == (3, 1, 9, 11)


def test_layer_logits_of_a_post_norm_model():
    torch.manual_seed(0)
    model = GPT(GPTConfig(11, 16, n_layer=2, n_head=2, n_embd=16, norm_first=False)).eval()
    idx = torch.arange(8)[None]
    torch.testing.assert_close(lens.layer_logits(model, idx)[-1], model(idx)[0])


def test_token_losses_average_to_the_model_loss():
    model = _tiny_gpt().eval()
    idx = torch.randint(0, 11, (2, 10), generator=torch.Generator().manual_seed(2))
    per_token = lens.token_losses(model, idx)
    assert per_token.shape == (2, 10) and torch.isnan(per_token[:, 0]).all()
    _, loss = model(idx[:, :-1], idx[:, 1:])
    # the model scores idx[:, 1:] from a context one token shorter, the same predictions
    torch.testing.assert_close(per_token[:, 1:].mean(), loss)
    assert lens.token_losses(model, idx[0]).shape == (10,)
    with pytest.raises(ValueError, match=r"exceeds block_size=16"):
        lens.token_losses(model, torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match=r"integer token ids"):
        lens.layer_logits(model, torch.zeros(1, 4))


# ---------------------------------------------------------------- attention over training
def _run(callbacks, steps=12):
    model = _tiny_gpt(seed=3)
    data = torch.randint(0, 11, (400,), generator=torch.Generator().manual_seed(4))
    config = TrainConfig(max_iters=steps, batch_size=4, block_size=8, eval_interval=50,
                         eval_iters=2, warmup_iters=2)
    return model, train(model, data, data, config, callbacks=callbacks)


def test_recorder_keeps_maps_at_the_steps_and_changes_no_number():
    probe = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
    start = _tiny_gpt(seed=3).eval()
    with torch.no_grad():
        at_start = start(probe[None], return_attn=True)[2][:, 0]
    recorder = viz.AttentionRecorder(probe, every=5)
    model, history = _run([recorder])
    assert recorder.steps == [0, 5, 10, 12]
    maps = recorder.maps
    assert maps.shape == (4, 2, 2, 8, 8) and maps.dtype == torch.float32
    torch.testing.assert_close(maps[0], at_start)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(maps[-1], model(probe[None], return_attn=True)[2][:, 0])
    assert not torch.equal(maps[0], maps[-1])
    _, plain = _run([])
    assert plain["step_loss"] == history["step_loss"]  # recording draws no random numbers


def test_recorder_bad_input():
    with pytest.raises(TypeError, match=r"integer token ids"):
        viz.AttentionRecorder(torch.rand(5))
    with pytest.raises(ValueError, match=r"one text.*\(2, 5\)"):
        viz.AttentionRecorder(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"every"):
        viz.AttentionRecorder([1, 2, 3], every=0)
    with pytest.raises(ValueError, match=r"recorded nothing"):
        _ = viz.AttentionRecorder([1, 2, 3]).maps

    class NoMaps(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, idx, targets=None, return_attn=False):
            return idx.float(), None

    with pytest.raises(TypeError, match=r"return_attn=True"):
        viz.AttentionRecorder([1, 2]).record(NoMaps(), 0)


@pytest.mark.parametrize("layer, head, n_traces", [(1, 0, 1), (1, None, 3), (None, None, 6)])
def test_attention_over_training_slider_scrubs_the_steps(layer, head, n_traces):
    maps = _weights(4, 2, 3, 6, 6, causal=True)
    steps = [0, 50, 100, 150]
    fig = viz.attention_over_training(maps, steps, TOKENS, layer, head)
    assert len(fig.data) == n_traces and all(t.type == "heatmap" for t in fig.data)
    pairs = [(lyr, hd) for lyr in ([layer] if layer is not None else range(2))
             for hd in ([head] if head is not None else range(3))]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["0", "50", "100", "150"]
    assert slider.active == 0 and "step 0" in fig.layout.title.text
    for k, (lyr, hd) in enumerate(pairs):
        np.testing.assert_allclose(np.asarray(fig.data[k].z), maps[0, lyr, hd].numpy(), rtol=1e-6)
        assert fig.data[k].name == f"layer {lyr} · head {hd}"
    for s, step in enumerate(slider.steps):
        data, layout, traces = step.args
        assert list(traces) == list(range(n_traces))
        assert layout["title.text"].endswith(f"step {steps[s]}")
        for k, (lyr, hd) in enumerate(pairs):
            np.testing.assert_allclose(data["z"][k], maps[s, lyr, hd].numpy(), atol=1e-4)
    assert not fig.frames  # nothing plays by itself on load


@pytest.mark.parametrize("kw, error, match", [
    (dict(maps=_weights(2, 3, 6, 6), steps=[0, 1]), ValueError,
     r"\(S, L, H, T, T\), got shape \(2, 3, 6, 6\).*maps\[None\]"),
    (dict(steps=[0, 1]), ValueError, r"2 steps for 3 recorded maps"),
    (dict(layer=None, head=1), ValueError, r"head without layer"),
    (dict(layer=2, head=0), ValueError, r"layer \(of 2\)"),
    (dict(steps=[0, 1, -2]), ValueError, r"each step.*-2"),
    (dict(tokens=TOKENS[:4]), ValueError, r"4 query tokens"),
])
def test_attention_over_training_bad_input(kw, error, match):
    call = dict(maps=_weights(3, 2, 2, 6, 6), steps=[0, 5, 10], tokens=TOKENS, layer=0, head=0)
    call.update(kw)
    with pytest.raises(error, match=match):
        viz.attention_over_training(call.pop("maps"), call.pop("steps"), call.pop("tokens"),
                                    **call)


# ---------------------------------------------------------------- attention_grid labels
def test_attention_grid_labels_a_slice_by_its_real_layers():
    fig = viz.attention_grid(_weights(2, 2, 6, 6), TOKENS, layers=[2, 3])
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["L2 H0", "L2 H1", "L3 H0", "L3 H1"]
    fig = viz.attention_grid(_weights(3, 6, 6), TOKENS, layers=[5])
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["L5 H0", "L5 H1", "L5 H2"]
    with pytest.raises(ValueError, match=r"2 layer indices \[1, 2\].*3 layer"):
        viz.attention_grid(_weights(3, 2, 6, 6), TOKENS, layers=[1, 2])
    with pytest.raises(ValueError, match=r"ints >= 0"):
        viz.attention_grid(_weights(1, 2, 6, 6), TOKENS, layers=[-1])
    with pytest.raises(TypeError, match=r"list of layer indices"):
        viz.attention_grid(_weights(1, 2, 6, 6), TOKENS, layers="2")


# ---------------------------------------------------------------- packaging
def test_views_work_offline_and_import_lazily():
    fig = viz.model_view(_weights(1, 2, 6, 6), TOKENS)
    page = fig.to_html(include_plotlyjs=True, full_html=True)
    assert "<script src=\"http" not in page and "Plotly.newPlot" in page
    code = ("import sys, lesson_lib.lens, lesson_lib.viz as v, lesson_lib.viz.head_grid; "
            "from lesson_lib.gpt import GPT; from lesson_lib.tokenizers import BPETokenizer; "
            "assert 'plotly' not in sys.modules, 'plotly imported'; "
            "assert callable(v.model_view) and callable(v.head_view), 'shadowed by a module'; "
            "assert callable(v.loss_strip) and callable(v.logit_lens)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
