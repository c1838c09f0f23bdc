"""The views draw exactly the numbers they are given, and leave no trace.

Pixel-level data checks: the image array of each heatmap equals its input,
tick labels equal the tokens, and each plotly slider step shows exactly the
trace it names. Plus input errors, offline HTML and global state.
"""
import copy
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lesson_lib import viz  # noqa: E402
from lesson_lib.viz.static import display_token  # noqa: E402

TOKENS = ["The", "cat", "sat", "on", "the", "cat"]  # a repeated token on purpose


def _weights(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=g), dim=-1)


def _labels(ticklabels):
    return [t.get_text() for t in ticklabels]


def _paper_pe(max_len, d_model, base=10000.0):
    """Section 3.5 written out loop by loop, independent of lesson_lib."""
    pe = np.zeros((max_len, d_model))
    for p in range(max_len):
        for i in range(0, d_model, 2):
            pe[p, i] = math.sin(p / base ** (i / d_model))
            pe[p, i + 1] = math.cos(p / base ** (i / d_model))
    return pe


# ---------------------------------------------------------------- matplotlib
@pytest.mark.parametrize("as_numpy", [False, True])
def test_heatmap_draws_the_weights_and_tokens(as_numpy):
    w = _weights(6, 6)
    fig = viz.attention_heatmap(w.numpy() if as_numpy else w, TOKENS, title="head 0")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), w.numpy(), rtol=1e-6)
    assert _labels(ax.get_xticklabels()) == TOKENS
    assert _labels(ax.get_yticklabels()) == TOKENS
    assert ax.get_title() == "head 0"
    assert len(fig.axes) == 2  # the map and its colourbar


def test_heatmap_cross_attention_and_given_axes():
    w = _weights(3, 5)
    queries, keys = ["a", "b", "c"], ["v", "w", "x", "y", "z"]
    fig0, ax = plt.subplots()
    try:
        fig = viz.attention_heatmap(w, queries, keys, ax=ax)
        assert fig is fig0
        np.testing.assert_allclose(ax.images[0].get_array(), w.numpy(), rtol=1e-6)
        assert _labels(ax.get_xticklabels()) == keys
        assert _labels(ax.get_yticklabels()) == queries
    finally:
        plt.close(fig0)


def test_small_heatmap_prints_each_weight_in_its_cell():
    w = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    ax = viz.attention_heatmap(w, ["x", "y"]).axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.25", "0.75", "1.00"]


def test_heatmap_labels_special_tokens_verbatim():
    tokens = ["$x$", "\n", " ", "<|endoftext|>"]
    ax = viz.attention_heatmap(_weights(4, 4), tokens).axes[0]
    labels = ax.get_xticklabels()
    assert _labels(labels) == ["$x$", "\\n", "␣", "<|endoftext|>"]
    assert not labels[0].get_parse_math()  # '$x$' is a token, not a formula
    fig = viz.attention_heatmap(_weights(64, 64), [f"t{i}" for i in range(64)])
    assert fig.axes[0].get_xticklabels()[0].get_rotation() == 90


@pytest.mark.parametrize("shape", [(2, 3, 6, 6), (4, 6, 6)])
def test_grid_has_one_panel_per_head(shape):
    w = _weights(*shape)
    w4 = w.reshape(-1 if len(shape) == 4 else 1, shape[-3], 6, 6)
    fig = viz.attention_grid(w, TOKENS)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == w4.shape[0] * w4.shape[1]
    for k, ax in enumerate(panels):
        layer, head = divmod(k, w4.shape[1])
        assert ax.get_title() == f"L{layer} H{head}"
        np.testing.assert_allclose(ax.images[0].get_array(), w4[layer, head].numpy(), rtol=1e-6)
    clims = {ax.images[0].get_clim() for ax in panels}
    assert len(clims) == 1  # one colour scale for all heads
    assert _labels(panels[-1].get_xticklabels()) == TOKENS


def test_positional_heatmap_draws_the_table():
    from lesson_lib.positional import sinusoidal_encoding

    pe = sinusoidal_encoding(32, 16)
    np.testing.assert_allclose(pe.double().numpy(), _paper_pe(32, 16), atol=1e-6)
    ax = viz.positional_encoding_heatmap(pe).axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), pe.numpy(), rtol=1e-6)
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi  # diverging scale centred on 0
    assert ax.get_xlabel() == "dimension" and ax.get_ylabel() == "position"


def test_views_leave_rcparams_and_pyplot_untouched():
    before = copy.deepcopy(dict(matplotlib.rcParams))
    open_before = plt.get_fignums()
    viz.attention_heatmap(_weights(6, 6), TOKENS)
    viz.attention_grid(_weights(2, 2, 6, 6), TOKENS)
    viz.positional_encoding_heatmap(np.zeros((4, 4)))
    assert plt.get_fignums() == open_before
    assert dict(matplotlib.rcParams) == before


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, error, match", [
    (lambda: viz.attention_heatmap(_weights(2, 3, 6, 6), TOKENS), ValueError,
     r"\(2, 3, 6, 6\).*weights\[layer, head\]"),
    (lambda: viz.attention_heatmap(_weights(5, 6), ["a"] * 5, ["k"] * 4), ValueError,
     r"4 key tokens.*\(5, 6\).*need 6"),
    (lambda: viz.attention_heatmap(_weights(5, 5), ["a"] * 4), ValueError,
     r"4 query tokens.*\(5, 5\).*need 5"),
    (lambda: viz.attention_heatmap(_weights(3, 4), ["a"] * 3), ValueError,
     r"Tq=3.*Tk=4.*key_tokens"),
    (lambda: viz.attention_heatmap(torch.tensor([[0.5, float("nan")], [0.5, 0.5]]), ["a", "b"]),
     ValueError, r"1 NaN"),
    (lambda: viz.attention_heatmap(torch.ones(6), TOKENS), ValueError,
     r"\(Tq, Tk\), got shape \(6,\)"),
    (lambda: viz.attention_heatmap(torch.ones(0, 0), []), ValueError, r"empty"),
    (lambda: viz.attention_heatmap(_weights(3, 3), "abc"), TypeError, r"list\(text\)"),
    (lambda: viz.attention_heatmap([["a", "b"]], ["x"]), TypeError, r"real numbers"),
    (lambda: viz.attention_grid(_weights(2, 1, 2, 6, 6), TOKENS), ValueError,
     r"\(L, H, Tq, Tk\).*\(2, 1, 2, 6, 6\).*attn\[:, 0\]"),
    (lambda: viz.positional_encoding_heatmap(torch.ones(2, 3, 4)), ValueError,
     r"\(max_len, d_model\), got shape \(2, 3, 4\)"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_display_token_escapes_control_characters():
    assert display_token("a\tb") == "a\\tb"
    assert display_token("") == "''"
    assert display_token("\x00") == "\\x00"


# ---------------------------------------------------------------- plotly twins
def _visible_heatmaps(fig, visible):
    return [k for k, (t, v) in enumerate(zip(fig.data, visible)) if t.type == "heatmap" and v]


def test_attention_plotly_slider_shows_the_named_head():
    pytest.importorskip("plotly")
    w = _weights(2, 3, 6, 6)
    fig = viz.attention_plotly(w, TOKENS)
    assert len(fig.data) == 6
    assert [t.visible for t in fig.data] == [True] + [False] * 5
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 6
    for k, step in enumerate(steps):
        layer, head = divmod(k, 3)
        assert step.label == f"L{layer} H{head}"
        assert _visible_heatmaps(fig, step.args[0]["visible"]) == [k]
        # maps are stored to 4 decimals, so that saved figures stay small
        np.testing.assert_allclose(np.asarray(fig.data[k].z), w[layer, head].numpy(), atol=5e-5)
    assert "→" in fig.data[0].hovertemplate and "%{z" in fig.data[0].hovertemplate
    # the repeated "cat" stays two rows, which read the same on screen
    assert len(set(fig.data[0].y)) == 6
    assert [s.replace("\u200b", "") for s in fig.data[0].y] == TOKENS
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"


@pytest.mark.parametrize("shape, n_traces", [((4, 6, 6), 4), ((6, 6), 1)])
def test_attention_plotly_accepts_fewer_axes(shape, n_traces):
    pytest.importorskip("plotly")
    w = _weights(*shape)
    fig = viz.attention_plotly(w, TOKENS)
    assert len(fig.data) == n_traces
    np.testing.assert_allclose(np.asarray(fig.data[-1].z), w.reshape(-1, 6, 6)[-1].numpy(),
                               atol=5e-5)  # 4 decimals


def test_attention_plotly_escapes_tags_in_tokens():
    pytest.importorskip("plotly")
    fig = viz.attention_plotly(_weights(2, 2), ["<|endoftext|>", "<br>"])
    assert list(fig.data[0].x) == ["&lt;|endoftext|&gt;", "&lt;br&gt;"]


def test_plotly_figures_work_offline():
    pytest.importorskip("plotly")
    for fig in (viz.attention_plotly(_weights(2, 2, 6, 6), TOKENS),
                viz.positional_encoding_plotly(max_len=16, d_model=8)):
        page = fig.to_html(include_plotlyjs=True, full_html=True)
        assert "<script src=\"http" not in page and "<script src='http" not in page
        assert "Plotly.newPlot" in page


def test_positional_plotly_matches_the_paper():
    pytest.importorskip("plotly")
    max_len, d_model = 20, 8
    fig = viz.positional_encoding_plotly(max_len=max_len, d_model=d_model, base=100.0)
    pe = _paper_pe(max_len, d_model, base=100.0)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), pe, atol=5e-5)  # 4 decimals
    np.testing.assert_allclose(np.asarray(fig.data[1].z), pe @ pe.T, atol=5e-5)
    np.testing.assert_allclose(np.diag(np.asarray(fig.data[1].z)), d_model / 2, atol=1e-5)
    steps = fig.layout.sliders[0].steps
    assert len(steps) == d_model // 2
    for i, step in enumerate(steps):
        shown = [k for k, v in enumerate(step.args[0]["visible"]) if v]
        assert shown == [0, 1, 2 + 2 * i, 3 + 2 * i]
        for k, dim in ((2 + 2 * i, 2 * i), (3 + 2 * i, 2 * i + 1)):
            np.testing.assert_allclose(np.asarray(fig.data[k].y), pe[:, dim], atol=1e-6)
        assert step.args[1]["shapes"][0]["x0"] == 2 * i - 0.5


def test_positional_plotly_rejects_odd_d_model():
    pytest.importorskip("plotly")
    with pytest.raises(ValueError, match="7"):
        viz.positional_encoding_plotly(max_len=8, d_model=7)


def test_tokens_html_one_span_per_token():
    page = viz.tokens_html(["Hel", "lo", " <b>", "\n"], colors=["red", "blue"], ids=[1, 2, 3, 4])
    assert page.count("<span") == 4
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert page.count("background:red") == 2 and "id 4" in page
    assert page._repr_html_() == str(page)
    with pytest.raises(ValueError, match="3 ids for 4 tokens"):
        viz.tokens_html(list("abcd"), ids=[1, 2, 3])


def test_import_needs_neither_plotly_nor_ipywidgets():
    code = ("import sys, lesson_lib, lesson_lib.viz as v; v.attention_plotly; "
            "assert 'plotly' not in sys.modules and 'ipywidgets' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('plotly', 'ipywidgets')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
