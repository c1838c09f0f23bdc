"""The live widgets show what the model computes, and update in place.

"What the front end sees" is checked by replaying the messages a
FigureWidget sends (``_py2js_update`` / ``_py2js_restyle``) onto a copy of
the state it had when displayed: the replayed traces must equal the
model's own attention maps, the sinusoidal table, and ``filter_logits``'s
probabilities. No front end is running: everything here is headless.
"""
import json
import math
import subprocess
import sys
import warnings
from copy import deepcopy

import numpy as np
import pytest
import torch

pytest.importorskip("plotly")
pytest.importorskip("ipywidgets")

from plotly.basedatatypes import Undefined  # noqa: E402

from lesson_lib import viz  # noqa: E402
from lesson_lib.gpt import GPT, GPTConfig, filter_logits  # noqa: E402
from lesson_lib.positional import sinusoidal_encoding  # noqa: E402
from lesson_lib.tokenizers import CharTokenizer  # noqa: E402
from lesson_lib.train import TrainConfig, train  # noqa: E402
from lesson_lib.transformer import Transformer  # noqa: E402

MAP_ATOL = 5e-5  # maps reach the front end rounded to 4 decimals (viz.interactive._compact)
CORPUS = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll: Speak, speak!\n"
TEXT = "Before we proceed, hear me."


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_text(CORPUS)


@pytest.fixture(scope="module")
def gpt(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=3,
                         n_embd=24, dropout=0.1))


class FrontEnd:
    """A stand-in for the browser: the figure state at display time plus every update.

    ``figure`` picks one of the explorer's figures (default: ``explorer.figure``).
    """

    def __init__(self, explorer, figure=None):
        fig = explorer.figure if figure is None else figure
        explorer._repr_mimebundle_()  # displaying it sends the figure as it is now
        self.traces = deepcopy(fig._widget_data)
        self.layout = {}
        self.messages, self.styles = [], []
        for name in ("_py2js_update", "_py2js_restyle", "_py2js_relayout",
                     "_py2js_addTraces", "_py2js_deleteTraces"):
            fig.observe(self._receive, names=name)

    def _receive(self, change):
        msg = change["new"]
        if msg is None:
            return
        self.messages.append(change["name"])
        style = msg.get("style_data", msg.get("restyle_data", {}))
        indexes = msg.get("style_traces", msg.get("restyle_traces", []))
        self.styles.append(style)
        for key, values in style.items():
            for i, value in zip(indexes, values):
                if value is not Undefined:
                    self.traces[i][key] = value
        self.layout.update(msg.get("layout_data", msg.get("relayout_data", {})))


def _attn(model, ids):
    """The model's own maps (L, H, T, T) in eval mode; the mode is restored."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        attn = model(torch.tensor([ids]), return_attn=True)[-1][:, 0].double().numpy()
    model.train(was_training)
    return attn


# ---------------------------------------------------------------- LiveFigure
def _sent(fig, monkeypatch):
    """Every message the figure sends to its front end: (content, buffers)."""
    sent = []
    monkeypatch.setattr(fig, "_send", lambda msg, buffers=None: sent.append((msg, buffers)))
    return sent


def test_live_figure_carries_a_loader_not_plotly(monkeypatch):
    from lesson_lib.viz import live_figure

    fig = viz.LiveFigure(data=[{"type": "heatmap", "z": np.eye(3)}])
    esm = fig._esm
    code = live_figure._plotly_widget_code()
    assert len(code) > 1_000_000 and len(esm) < 20_000  # plotly's code vs the loader
    assert "plotly-widget-code?" in esm and "export default" in esm
    state, *_ = ipywidgets_state(fig)
    assert len(json.dumps(state, default=str)) < 50_000  # what a notebook saves per figure
    sent = _sent(fig, monkeypatch)
    fig._on_front_end_message(fig, {"type": "plotly-widget-code?"}, [])
    (msg, buffers), = sent
    assert msg["content"]["type"] == "plotly-widget-code" and bytes(buffers[0]) == code


def test_live_figure_sends_the_figure_as_it_is_now(monkeypatch):
    fig = viz.LiveFigure(data=[{"type": "bar", "y": [1, 2]}], layout={"title": {"text": "a"}})
    with fig.batch_update():
        fig.data[0].y = [5, 6, 7]
        fig.layout.title.text = "b"
    sent = _sent(fig, monkeypatch)
    fig._on_front_end_message(fig, {"type": "plotly-figure?"}, [])  # a late drawing catches up
    (msg, _), = sent
    assert msg["method"] == "update"
    assert list(msg["state"]["_widget_data"][0]["y"]) == [5, 6, 7]
    assert msg["state"]["_widget_layout"]["title"]["text"] == "b"
    state = fig.get_state()  # what a page that connects later (voila, a reload) is sent
    assert list(state["_widget_data"][0]["y"]) == [5, 6, 7]


def test_live_figure_reaches_the_front_end_whole(monkeypatch):
    """A figure of plain lists (no arrays) too: its data is sent when it is built."""
    import ipywidgets

    sent = []
    monkeypatch.setattr(ipywidgets.Widget, "_send",
                        lambda self, msg, buffers=None: sent.append(msg))
    viz.LiveFigure(data=[{"type": "bar", "x": ["a", "b"], "y": [1, 2]}] * 3)
    shown = [m["state"]["_widget_data"] for m in sent if "_widget_data" in m.get("state", {})]
    assert shown and len(shown[-1]) == 3 and list(shown[-1][2]["y"]) == [1, 2]


def test_live_figure_sends_the_code_once_per_kernel(monkeypatch):
    from lesson_lib.viz import live_figure

    monkeypatch.setattr(live_figure, "_in_kernel", lambda: True)
    monkeypatch.setattr(live_figure.LiveFigure, "_code_sent", False)
    pushed = []
    monkeypatch.setattr(live_figure.LiveFigure, "_send_code", lambda self: pushed.append(self))
    first, _ = viz.LiveFigure(), viz.LiveFigure()
    assert pushed == [first]  # the first figure sends it unasked; the page shares it


def ipywidgets_state(widget):
    from ipywidgets.widgets.widget import _remove_buffers

    return _remove_buffers(widget.get_state())


# ---------------------------------------------------------------- AttentionExplorer
def test_attention_explorer_shows_the_selected_head(gpt, tok):
    gpt.train()  # dropout on: the explorer must switch it off, then restore the mode
    ex = viz.AttentionExplorer(gpt, tok, "hear me")
    fig, widget = ex.figure, ex.widget
    front, bars = FrontEnd(ex), FrontEnd(ex, ex.bars)
    ex.update(text=TEXT, layer=1, head=2)
    assert gpt.training
    attn = _attn(gpt, tok.encode(TEXT))  # (L, H, T, T)
    np.testing.assert_allclose(front.traces[0]["z"], attn[1, 2], atol=MAP_ATOL)
    np.testing.assert_allclose(fig.data[0].z, attn[1, 2], atol=MAP_ATOL)
    assert [y.replace("\u200b", "") for y in front.traces[0]["y"]] == \
        [c if c != " " else "␣" for c in TEXT]
    q = len(TEXT) - 1  # the default query is the last token
    np.testing.assert_allclose(bars.traces[0]["y"], attn[1, 2, q], atol=1e-6)
    assert ex.figure is fig and ex.widget is widget  # drawn in place, not rebuilt
    # a front end that connects later (voila, a reloaded page) asks for the state: current
    fig.get_state(["_widget_data", "_widget_layout"])
    np.testing.assert_allclose(fig._widget_data[0]["z"], attn[1, 2], atol=MAP_ATOL)
    assert "layer 1, head 2" in fig._widget_layout["title"]["text"]
    assert "_py2js_addTraces" not in front.messages and front.messages
    np.testing.assert_allclose(ex.weights(), attn[1, 2], atol=1e-6)


def test_attention_explorer_all_heads_grid_and_query(gpt, tok):
    ex = viz.AttentionExplorer(gpt, tok, TEXT)
    front, bars = FrontEnd(ex), FrontEnd(ex, ex.bars)
    ex.update(layer=1, head="all", query=4)
    attn = _attn(gpt, tok.encode(TEXT))
    H = gpt.config.n_head
    assert front.traces[0]["visible"] is False
    for h in range(H):
        assert front.traces[h + 1]["visible"] is True
        np.testing.assert_allclose(front.traces[h + 1]["z"], attn[1, h], atol=MAP_ATOL)
    np.testing.assert_allclose(bars.traces[0]["y"], attn[1, :, 4].mean(0), atol=1e-6)
    assert front.layout["shapes"][0]["y0"] == 3.5  # the query row is outlined
    assert [a.text for a in ex.figure.layout.annotations if a.visible] == \
        [f"head {h}" for h in range(H)]  # each panel is labelled
    assert "query 4" in ex._strip.value


def test_attention_explorer_query_slider(gpt, tok):
    ex = viz.AttentionExplorer(gpt, tok, TEXT, layer=1, head=0)
    front, bars = FrontEnd(ex), FrontEnd(ex, ex.bars)
    assert ex._query.max == len(TEXT) - 1 and ex._query.value == len(TEXT) - 1
    ex._query.value = 3  # an arrow key on the slider
    attn = _attn(gpt, tok.encode(TEXT))
    assert ex.state["query"] == 3
    np.testing.assert_allclose(bars.traces[0]["y"], attn[1, 0, 3], atol=1e-6)
    assert front.layout["shapes.0.y0"] == 2.5  # the outline moved, the maps were not resent
    assert not any("z" in style for style in front.styles)
    ex.update(text="hear me")  # a shorter text: the slider shrinks to it
    assert ex._query.max == 6 and ex._query.value == 6 and ex.state["query"] == 6


def test_attention_explorer_caches_the_forward_pass(gpt, tok):
    calls = []
    hook = gpt.register_forward_hook(lambda *a: calls.append(1))
    try:
        ex = viz.AttentionExplorer(gpt, tok, TEXT)
        assert len(calls) == 1
        for change in ({"layer": 1}, {"head": 2}, {"head": "all"}, {"query": 3}):
            ex.update(**change)
        assert len(calls) == 1  # layer, head and query only slice the cached maps
        ex.update(text="hear me")
        ex.update(text=TEXT)
        assert len(calls) == 2  # a new text runs the model once; an old one is cached
    finally:
        hook.remove()


def test_attention_explorer_click_picks_the_query(gpt, tok):
    ex = viz.AttentionExplorer(gpt, tok, TEXT, layer=0, head=1)
    fig = ex.figure
    ys = list(fig.data[0].y)
    fig._js2py_pointsCallback = {  # what plotly.js sends on a click on cell (row 5, col 2)
        "event_type": "plotly_click",
        "points": {"trace_indexes": [0], "point_indexes": [[5, 2]], "xs": [ys[2]],
                   "ys": [ys[5]]}}
    assert ex.state["query"] == 5
    attn = _attn(gpt, tok.encode(TEXT))
    np.testing.assert_allclose(ex.bars.data[0].y, attn[0, 1, 5], atol=1e-6)


@pytest.mark.parametrize("change, match", [
    ({"layer": 2}, r"layer must be an int in 0\.\.1 .*2 layers.*got 2"),
    ({"head": 3}, r"head must be an int in 0\.\.2 or 'all'.*got 3"),
    ({"head": "some"}, r"head .* or 'all'"),
    ({"text": "hear me, Zeus"}, r"character 'Z' is not in the vocabulary"),
    ({"text": ""}, r"text is empty"),
    ({"text": "a" * 40}, r"40 tokens but the model's context holds at most 32"),
    ({"kind": "cross"}, r"kind must be one of \['self'\]"),
    ({"query": 99}, r"query must be an int in 0\.\.26"),
])
def test_attention_explorer_bad_input(gpt, tok, change, match):
    ex = viz.AttentionExplorer(gpt, tok, TEXT, layer=1, head=1)
    before = (dict(ex.state), np.array(ex.figure.data[0].z))
    with pytest.raises(ValueError, match=match):
        ex.update(**change)
    assert ex.state == before[0]  # nothing changed
    np.testing.assert_array_equal(ex.figure.data[0].z, before[1])


def test_attention_explorer_typo_in_the_box_shows_in_the_status(gpt, tok):
    ex = viz.AttentionExplorer(gpt, tok, TEXT)
    ex._text.value = "hear Zeus"  # what typing does: no exception reaches the user
    assert "character 'Z'" in ex.status.value.replace("&#x27;", "'")
    assert ex.state["text"] == TEXT
    ex._layer.value = 1  # a control drives update() like code does
    assert ex.state["layer"] == 1 and "✗" not in ex.status.value
    with pytest.raises(TypeError, match="unknown key.*'colour'"):
        ex.update(colour="red")
    with pytest.raises(TypeError, match="text must be a str, got int"):
        ex.update(text=5)
    with pytest.raises(TypeError, match="model must be a GPT"):
        viz.AttentionExplorer(torch.nn.Linear(2, 2), tok)


def test_attention_explorer_on_a_transformer(tok):
    torch.manual_seed(1)
    model = Transformer(tok.vocab_size, tok.vocab_size, d_model=16, n_heads=2, n_layers=2,
                        d_ff=32, max_len=64)
    ex = viz.AttentionExplorer(model, tok, "hear me => me hear!")
    front = FrontEnd(ex)
    ex.update(kind="cross", layer=1, head=1)
    src, tgt = torch.tensor([tok.encode("hear me")]), torch.tensor([tok.encode("me hear!")])
    model.eval()
    with torch.no_grad():
        _, maps = model(src, tgt, return_attn=True)
    cross = maps["cross"][1, 0, 1].double().numpy()  # (T, S)
    assert cross.shape == (8, 7)
    np.testing.assert_allclose(front.traces[0]["z"], cross, atol=MAP_ATOL)
    assert len(front.traces[0]["x"]) == 7 and len(front.traces[0]["y"]) == 8
    np.testing.assert_allclose(ex.maps("decoder_self"), maps["decoder_self"][:, 0].numpy(),
                               atol=1e-6)  # (L, H, T, T) of the current text
    ex.update(kind="encoder")
    np.testing.assert_allclose(front.traces[0]["z"], maps["encoder"][1, 0, 1].numpy(),
                               atol=MAP_ATOL)
    with pytest.raises(ValueError, match="'source => target'"):
        ex.update(text="no arrow here")
    assert ex.twin().data[0].z.shape == (7, 7)


def test_explorers_display_as_their_widget(gpt, tok):
    ex = viz.AttentionExplorer(gpt, tok, TEXT)
    bundle = ex._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == ex.widget.model_id
    assert bundle["text/plain"].startswith("AttentionExplorer(")
    assert ex.figure in ex.widget.children


# ---------------------------------------------------------------- PositionalEncodingExplorer
def test_pe_explorer_draws_the_table_it_is_given():
    ex = viz.PositionalEncodingExplorer()
    front = FrontEnd(ex)
    ex.update(max_len=40, d_model=32, base=100.0, dim=3)
    pe = sinusoidal_encoding(40, 32, 100.0).double().numpy()
    np.testing.assert_allclose(front.traces[0]["z"], pe, atol=MAP_ATOL)
    np.testing.assert_allclose(front.traces[1]["z"], pe @ pe.T, atol=MAP_ATOL)
    np.testing.assert_allclose(front.traces[2]["y"], pe[:, 6], atol=1e-6)  # sin of pair 3
    np.testing.assert_allclose(front.traces[3]["y"], pe[:, 7], atol=1e-6)  # cos of pair 3
    # one loop of the paper's formula, independent of lesson_lib
    assert math.isclose(front.traces[0]["z"][7][6], math.sin(7 / 100.0 ** (6 / 32)),
                        abs_tol=MAP_ATOL)
    assert ex._sliders["dim"].max == 15 and ex._sliders["d_model"].value == 32


def test_pe_explorer_rotation():
    ex = viz.PositionalEncodingExplorer(max_len=50, d_model=16, dim=2, offset=7, position=3)
    front = FrontEnd(ex)
    ex.update(rotation=True)
    assert ex.rotation_error < 1e-5
    p_k, turned = front.traces[9], front.traces[10]  # PE(p+k) and R_k·PE(p)
    assert turned["visible"] is True
    np.testing.assert_allclose([turned["x"][0], turned["y"][0]], [p_k["x"][0], p_k["y"][0]],
                               atol=1e-6)
    pe = sinusoidal_encoding(50, 16).double().numpy()
    np.testing.assert_allclose([p_k["x"][0], p_k["y"][0]], pe[10, 4:6], atol=1e-6)
    assert "R_7" in ex.status.value


def test_pe_rotation_matrix():
    pe = sinusoidal_encoding(40, 12, 50.0).double()
    for k in (0, 1, 5, 13):
        R = viz.pe_rotation(k, 12, 50.0).double()
        torch.testing.assert_close(pe[:40 - k] @ R.T, pe[k:], atol=1e-6, rtol=0)
        torch.testing.assert_close(R @ R.T, torch.eye(12, dtype=torch.float64), atol=1e-6,
                                   rtol=0)
    torch.testing.assert_close(viz.pe_rotation(-3, 12), viz.pe_rotation(3, 12).T)
    with pytest.raises(ValueError, match="even"):
        viz.pe_rotation(1, 7)
    with pytest.raises(TypeError, match="k must be an int"):
        viz.pe_rotation(1.5, 8)


def test_pe_explorer_bad_input_and_controls():
    ex = viz.PositionalEncodingExplorer(dim=20)
    with pytest.raises(ValueError, match="even.*33"):
        ex.update(d_model=33)
    with pytest.raises(ValueError, match=r"dim must be an int in 0\.\.31 .*got 40"):
        ex.update(dim=40)
    with pytest.raises(ValueError, match="base must be a finite number > 1"):
        ex.update(base=0.5)
    with pytest.raises(ValueError, match="too large"):
        ex.update(max_len=5000)
    ex.update(d_model=8)  # dim 20 no longer exists: it follows the table down
    assert ex.state["dim"] == 3
    ex._sliders["max_len"].value = 12  # a slider move redraws like update() does
    assert ex.state["max_len"] == 12 and np.asarray(ex.figure.data[0].z).shape == (12, 8)
    assert ex.state["offset"] <= 11 and ex.state["position"] + ex.state["offset"] <= 11
    assert ex.twin().data[0].z.shape == (12, 8)


# ---------------------------------------------------------------- NextTokenExplorer
def test_next_token_bars_equal_filter_logits(gpt, tok):
    prompt = "All: Speak, sp"
    ex = viz.NextTokenExplorer(gpt, tok, prompt)
    front = FrontEnd(ex)
    ex.update(temperature=0.7, top_k=6, top_p=0.9)
    gpt.eval()
    with torch.no_grad():
        logits = gpt(torch.tensor([tok.encode(prompt)]))[0][0, -1]
    gpt.train()
    before, after = logits.softmax(-1), filter_logits(logits, 0.7, 6, 0.9)
    shown = torch.argsort(before, descending=True)[:20]
    np.testing.assert_allclose(front.traces[0]["y"], before[shown].numpy(), atol=1e-6)
    np.testing.assert_allclose(front.traces[1]["y"], after[shown].numpy(), atol=1e-6)
    assert sum(front.traces[1]["y"]) == pytest.approx(1.0, abs=1e-5)  # all kept tokens shown
    labels = [x.replace("\u200b", "") for x in front.traces[0]["x"]]
    expected = [tok.decode([i]).replace("\n", "\\n").replace(" ", "␣") for i in shown.tolist()]
    assert labels == expected
    assert "\\n" in "".join(ex._labels) and "␣" in ex._labels  # readable newline and space


def test_next_token_sample_is_reproducible(gpt, tok):
    a = viz.NextTokenExplorer(gpt, tok, "hear", seed=3, temperature=1.5)
    b = viz.NextTokenExplorer(gpt, tok, "hear", seed=3, temperature=1.5)
    drawn = [a.sample() for _ in range(5)]
    assert drawn == [b.sample() for _ in range(5)]
    assert a.state["prompt"] == "hear" + "".join(drawn) == a._prompt.value
    greedy = viz.NextTokenExplorer(gpt, tok, "hear", top_k=1)
    top = tok.decode([int(greedy.probabilities()[0].argmax())])
    assert greedy.sample() == top  # top-k = 1 leaves one token to draw


def test_next_token_long_prompt_is_cropped(gpt, tok):
    prompt = "Before we proceed any further, hear me speak."  # 45 > block_size 32
    ex = viz.NextTokenExplorer(gpt, tok, prompt)
    gpt.eval()
    with torch.no_grad():
        logits = gpt(torch.tensor([tok.encode(prompt)[-32:]]))[0][0, -1]
    gpt.train()
    torch.testing.assert_close(ex.probabilities()[0], logits.softmax(-1))
    assert "the model sees the last 32" in ex.status.value


def test_next_token_twin_has_a_temperature_slider(gpt, tok):
    ex = viz.NextTokenExplorer(gpt, tok, "hear", top_k=5)
    fig = ex.twin(temperatures=(0.5, 2.0))
    assert type(fig).__name__ == "Figure" and len(fig.data) == 4
    assert [step["args"][0]["visible"] for step in fig.layout.sliders[0].steps] == \
        [[True, True, False, False], [False, False, True, True]]
    gpt.eval()
    with torch.no_grad():
        logits = gpt(torch.tensor([tok.encode("hear")]))[0][0, -1]
    gpt.train()
    np.testing.assert_allclose(fig.data[3].y, filter_logits(logits, 2.0, 5)[ex.shown].numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("change, match", [
    ({"temperature": -1.0}, "temperature must be a finite number >= 0"),
    ({"top_k": -2}, "top_k must be None or .*-2"),
    ({"top_p": 1.5}, r"top_p must be None or a number in \(0, 1\]"),
    ({"prompt": "Zeus"}, "character 'Z' is not in the vocabulary"),
    ({"prompt": ""}, "prompt is empty"),
])
def test_next_token_bad_input(gpt, tok, change, match):
    ex = viz.NextTokenExplorer(gpt, tok, "hear")
    state = dict(ex.state)
    with pytest.raises(ValueError, match=match):
        ex.update(**change)
    assert ex.state == state


def test_next_token_controls(gpt, tok):
    ex = viz.NextTokenExplorer(gpt, tok, "hear")
    ex._top_k.value = 3
    assert ex.state["top_k"] == 3 and int((ex.probabilities()[1] > 0).sum()) == 3
    ex._top_k.value = 0  # the slider's "off"
    assert ex.state["top_k"] is None
    ex._temperature.value = 0.0  # greedy: one bar holds everything
    assert max(ex.figure.data[1].y) == pytest.approx(1.0)
    ex._prompt.value = "Zeus"
    assert "✗" in ex.status.value and ex.state["prompt"] == "hear"
    ex.update(temperature=3.0)  # beyond the slider: the slider widens
    assert ex._temperature.value == 3.0


# ---------------------------------------------------------------- LiveLossPlot
def _tiny_run(tok, callbacks, max_iters=12):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=2,
                          n_embd=16))
    ids = torch.tensor(tok.encode(CORPUS * 3))
    cfg = TrainConfig(max_iters=max_iters, batch_size=4, block_size=8, eval_interval=5,
                      eval_iters=2, warmup_iters=2)
    return train(model, ids[:150], ids[150:], cfg, callbacks=callbacks)


def test_live_loss_plot_inside_train(tok, capsys):
    plot = viz.LiveLossPlot(every=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = _tiny_run(tok, [plot])
    assert capsys.readouterr().out == ""  # headless: nothing printed or displayed
    step, tr, va = plot.figure.data
    assert list(step.y) == history["step_loss"] and list(step.x) == list(range(12))
    assert list(tr.x) == history["iter"] == [5, 10, 12]
    assert list(tr.y) == history["train_loss"] and list(va.y) == history["val_loss"]
    static = plot.static_figure()
    assert type(static).__name__ == "Figure" and list(static.data[2].y) == history["val_loss"]


def test_live_loss_plot_replaces_itself_with_a_static_figure(tok, monkeypatch):
    from lesson_lib.viz import live_loss

    shown = []

    class Handle:
        def update(self, obj, raw=False):
            shown.append(("update", obj if raw else None))

    def fake_display(obj, display_id=False):
        shown.append(("display", obj))
        return Handle()

    monkeypatch.setattr(live_loss, "_in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", fake_display)
    monkeypatch.setattr("plotly.io.renderers.default", "plotly_mimetype")
    plot = viz.LiveLossPlot(every=100)
    history = _tiny_run(tok, [plot], max_iters=6)
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert shown[0][1] is plot.figure
    # the widget's output becomes a plain plotly figure (raw mimebundle): it survives export
    spec = shown[1][1]["application/vnd.plotly.v1+json"]
    assert list(spec["data"][2]["y"]) == history["val_loss"]


def test_live_loss_plot_bad_input():
    with pytest.raises(ValueError, match="every must be a positive int"):
        viz.LiveLossPlot(every=0)
    with pytest.raises(ValueError, match="no curves yet"):
        viz.LiveLossPlot().static_figure()


def test_widget_names_load_lazily():
    code = ("import sys, lesson_lib.viz as v, lesson_lib.train; v.LiveLossPlot; "
            "assert 'plotly' not in sys.modules and 'ipywidgets' not in sys.modules; "
            "v.AttentionExplorer, v.NextTokenExplorer, v.PositionalEncodingExplorer; "
            "assert 'ipywidgets' in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- ICLExplorer (chapter 10)
@pytest.fixture(scope="module")
def icl_model():
    from lesson_lib import pretrained

    return pretrained.load("icl-mapping")  # shipped: a missing checkpoint fails


def test_icl_explorer_accuracy_is_few_shot_accuracy(icl_model):
    from lesson_lib import icl

    model, tok = icl_model
    ex = viz.ICLExplorer(model, tok, n_trials=20, seed=3)
    front = FrontEnd(ex)
    full = [icl.few_shot_accuracy(model, tok, k, n_trials=20, seed=3) for k in range(9)]
    assert ex.accuracy([]) == full
    # chapter 10's ablation: a copy whose out_proj columns of the head are zero
    cut = deepcopy(model)
    D = model.config.n_embd // model.config.n_head
    with torch.no_grad():
        cut.blocks[0].attn.out_proj.weight[:, 1 * D:2 * D] = 0
    ablated = [icl.few_shot_accuracy(cut, tok, k, n_trials=20, seed=3) for k in range(9)]
    ex._toggles[(0, 1)].value = True  # a click on "L0 H1 off"
    assert ex.state["off"] == [(0, 1)]
    assert ex.accuracy([(0, 1)]) == ablated != full
    assert list(front.traces[2]["y"]) == ablated and front.traces[2]["visible"] is True
    ex._k.value = 6  # the shots slider moves the marker
    assert list(front.traces[3]["x"]) == [6] and list(front.traces[3]["y"]) == [ablated[6]]
    assert "n = 20" in ex.status.value
    ids = torch.tensor([tok.encode("|q4c9c")])
    with torch.no_grad():  # the hooks are gone: the model is the full one again
        torch.testing.assert_close(model(ids)[0], deepcopy(model)(ids)[0])


@pytest.mark.parametrize("change, error, match", [
    ({"k": 9}, ValueError, "k must be an int in"),
    ({"off": [(2, 0)]}, ValueError, "layer must be an int in"),
    ({"off": [(0, 5)]}, ValueError, "head must be an int in"),
    ({"off": "L0H1"}, TypeError, "off must be a list"),
])
def test_icl_explorer_bad_input(icl_model, change, error, match):
    ex = viz.ICLExplorer(*icl_model, n_trials=10)
    state = dict(ex.state)
    with pytest.raises(error, match=match):
        ex.update(**change)
    assert ex.state == state


# ---------------------------------------------------------------- ScalingExplorer (chapter 11)
def test_scaling_explorer_fits_the_smallest_sizes():
    from lesson_lib import scaling

    runs = scaling.load_runs()  # the shipped sweep
    ex = viz.ScalingExplorer(runs)
    front = FrontEnd(ex)
    sizes = sorted({r["compute_flops"] for r in runs})
    ex._n_fit.value = 4
    small = [r for r in runs if r["compute_flops"] in sizes[:4]]
    law = scaling.fit_power_law([r["compute_flops"] for r in small],
                                [r["val_loss"] for r in small])
    top = [r["val_loss"] for r in runs if r["compute_flops"] == sizes[-1]]
    assert front.traces[5]["y"][0] == pytest.approx(law.predict(sizes[-1]), rel=1e-9)
    assert sorted(front.traces[4]["y"]) == sorted(top)  # the held-out run, measured
    assert len(front.traces[0]["x"]) == len(small)
    assert f"{law.predict(sizes[-1]):.3f}" in ex.figure.layout.title.text
    with pytest.raises(ValueError, match="n_fit must be an int in"):
        ex.update(n_fit=len(sizes))  # the held-out size is never fitted
    twin = ex.twin()
    assert type(twin).__name__ == "Figure" and len(twin.layout.sliders[0].steps) == len(sizes) - 3


def test_scaling_explorer_averages_the_seeds_of_the_held_out_run():
    runs = [{"compute_flops": c, "val_loss": 1 + 8 * c ** -0.5} for c in (1.0, 4.0, 16.0, 64.0)]
    runs += [{"compute_flops": 256.0, "val_loss": v} for v in (1.4, 1.6, 1.5)]
    ex = viz.ScalingExplorer(runs)
    assert ex.held_out == pytest.approx(1.5)
    assert ex.fit().predict(256.0) == pytest.approx(1.5, abs=1e-4)  # the law is exact here
    with pytest.raises(ValueError, match="at least 4 sizes"):
        viz.ScalingExplorer(runs[:3])


# ---------------------------------------------------------------- a Hugging Face GPT-2
def test_explorers_take_a_gpt2_loaded_with_from_pretrained(tmp_path):
    """GPT.from_pretrained's model and BPE tokenizer drive the explorers (nothing downloaded)."""
    transformers = pytest.importorskip("transformers")
    hf_tokenizers = pytest.importorskip("tokenizers")
    from lesson_lib.tokenizers import BPETokenizer

    text = "Hello world! The quick brown fox jumps over the lazy dog. " * 3
    trainer = hf_tokenizers.ByteLevelBPETokenizer()
    trainer.train_from_iterator([text] * 10, vocab_size=300, min_frequency=1,
                                special_tokens=["<|endoftext|>"])
    trainer.save_model(str(tmp_path))
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=300,
                                     n_positions=64, attn_implementation="eager")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path, safe_serialization=True)
    from lesson_lib.gpt import GPT

    model, tok = GPT.from_pretrained(tmp_path), BPETokenizer.from_pretrained(tmp_path)
    ex = viz.AttentionExplorer(model, tok, "The quick brown fox", layer=1, head=1)
    front = FrontEnd(ex)
    ids = tok.encode("The quick brown fox")
    assert len(ids) < len("The quick brown fox")  # BPE tokens, not characters
    ex.update(query=1)
    np.testing.assert_allclose(front.traces[0]["z"], _attn(model, ids)[1, 1], atol=1e-4)
    nxt = viz.NextTokenExplorer(model, tok, "The quick brown")
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode("The quick brown")]))[0][0, -1]
    torch.testing.assert_close(nxt.probabilities()[0], logits.softmax(-1))
