"""The positional-encoding explorer: the sinusoidal table, live, and why it rotates.

*Attention Is All You Need* (Vaswani et al., 2017), section 3.5, adds
``PE[p, 2i] = sin(p·ω_i)`` and ``PE[p, 2i+1] = cos(p·ω_i)`` with
``ω_i = base^(-2i/d_model)`` to the token embeddings, and says it chose
them because "for any fixed offset k, PE_{pos+k} can be represented as a
linear function of PE_pos". That function is a rotation: each pair
``(sin, cos)`` is a point on the unit circle at angle ``p·ω_i``, and moving
``k`` positions turns it by ``k·ω_i`` whatever ``p`` is. ``pe_rotation``
builds that matrix ``R_k``; the explorer shows it on the circle.

``PositionalEncodingExplorer()`` has sliders for ``max_len``, ``d_model``,
``base``, the dimension pair ``dim`` (dimensions ``2·dim`` and
``2·dim + 1``), the ``offset`` k and a ``position`` p, and draws four
panels of one plotly ``FigureWidget``: the table (position × dimension),
the similarity ``PE·PEᵀ`` between positions, the chosen pair's sin and cos
over positions, and that pair on the unit circle. The "show rotation"
toggle marks ``PE(p)``, ``PE(p+k)`` and ``R_k·PE(p)`` on the circle and
prints ``max_p ‖PE(p+k) − R_k·PE(p)‖`` (zero up to rounding).

Left out: learned position embeddings (nothing to turn) and RoPE, which
rotates queries and keys instead of adding a table.
"""
from __future__ import annotations

import math
import numbers

import ipywidgets as W
import numpy as np
import torch

from ..positional import sinusoidal_encoding
from ._explorer import Explorer
from .interactive import _compact, _plotly, positional_encoding_plotly
from .live_figure import LiveFigure

__all__ = ["PositionalEncodingExplorer", "pe_rotation"]

MAX_SIDE = 1024  # largest max_len and d_model drawn (a 1024 × 1024 table is already 1M cells)


def pe_rotation(k: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """``R_k (d_model, d_model)`` with ``PE[p + k] = R_k @ PE[p]`` for every position p.

    Block-diagonal; pair i is ``[[cos θ, sin θ], [-sin θ, cos θ]]`` with
    ``θ = k · base^(-2i/d_model)``: the pair stores (sin, cos), and
    ``sin(a + θ) = sin a cos θ + cos a sin θ``, ``cos(a + θ) = cos a cos θ - sin a sin θ``.
    Worked example, one pair (ω = 1), k = 1: turn by 1 radian::

        R_1 = [[cos 1, sin 1], [-sin 1, cos 1]] = [[0.540, 0.841], [-0.841, 0.540]]
        R_1 @ PE[0] = R_1 @ [0, 1] = [0.841, 0.540] = [sin 1, cos 1] = PE[1]

    >>> bool(torch.allclose(pe_rotation(1, 2) @ sinusoidal_encoding(2, 2)[0],
    ...                     sinusoidal_encoding(2, 2)[1]))
    True
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int offset, got {type(k).__name__} {k!r}")
    sinusoidal_encoding(1, d_model, base)  # the same checks on d_model and base
    theta = k * float(base) ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    c, s = torch.cos(theta), torch.sin(theta)  # (d_model/2,)
    R = torch.zeros(d_model, d_model, dtype=torch.float64)
    R[0::2, 0::2] = torch.diag(c)
    R[0::2, 1::2] = torch.diag(s)
    R[1::2, 0::2] = torch.diag(-s)
    R[1::2, 1::2] = torch.diag(c)
    return R.to(torch.get_default_dtype())


def _index(name: str, value, n: int, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
        raise ValueError(f"{name} must be an int in 0..{n - 1} ({why}), got {value!r}")
    return int(value)


class PositionalEncodingExplorer(Explorer):
    """Sliders over the sinusoidal table; ``update(d_model=..., max_len=..., base=...)``.

    Also ``dim`` (pair index), ``offset`` (k), ``position`` (p) and
    ``rotation`` (bool). ``table()`` is the table on screen;
    ``rotation_error`` is ``max_p ‖PE(p+k) − R_k·PE(p)‖`` for the current k.
    """

    keys = ("max_len", "d_model", "base", "dim", "offset", "position", "rotation")

    def __init__(self, max_len: int = 64, d_model: int = 64, base: float = 10000.0, *,
                 dim: int = 4, offset: int = 5, position: int = 10, rotation: bool = False):
        super().__init__()
        self._build()
        self.update(max_len=max_len, d_model=d_model, base=base, dim=dim, offset=offset,
                    position=position, rotation=rotation)

    def _check(self, new: dict, changed: set) -> dict:
        max_len, d_model = new["max_len"], new["d_model"]
        sinusoidal_encoding(1, d_model, new["base"])  # type, parity and base checks
        sinusoidal_encoding(max_len, 2)
        for name in ("max_len", "d_model"):
            if new[name] > MAX_SIDE:
                raise ValueError(f"{name}={new[name]} is too large to draw; "
                                 f"keep it <= {MAX_SIDE}")
        new["base"] = float(new["base"])
        n_pair = d_model // 2
        for name, n, why in (("dim", n_pair, f"d_model={d_model} has {n_pair} pairs"),
                             ("offset", max_len, f"max_len={max_len}")):
            if name not in changed:
                new[name] = min(new[name], n - 1)  # keep it valid when the table shrinks
            new[name] = _index(name, new[name], n, why)
        n_pos = max_len - new["offset"]  # p and p + k must both be in the table
        if "position" not in changed:
            new["position"] = min(new["position"], n_pos - 1)
        new["position"] = _index("position", new["position"], n_pos,
                                 f"p + offset must stay below max_len={max_len}")
        if not isinstance(new["rotation"], bool):
            raise TypeError(f"rotation must be True or False, got {new['rotation']!r}")
        return new

    def table(self) -> np.ndarray:
        s = self.state
        return sinusoidal_encoding(s["max_len"], s["d_model"], s["base"]).double().numpy()

    # ------------------------------------------------------------ drawing
    def _build(self) -> None:
        go, make_subplots = _plotly()
        fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.2, vertical_spacing=0.14,
                            subplot_titles=("PE[position, dimension]", "similarity PE·PEᵀ",
                                            "one pair over positions", "that pair as a point"))
        fig.add_trace(go.Heatmap(colorscale="RdBu_r", zmid=0, zmin=-1, zmax=1, name="PE",
                                 colorbar=dict(x=0.4, y=0.79, len=0.45),
                                 hovertemplate="position %{y}, dim %{x}: %{z:.3f}"
                                               "<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Heatmap(colorscale="viridis", name="PE·PEᵀ",
                                 colorbar=dict(x=1.0, y=0.79, len=0.45),
                                 hovertemplate="positions %{y} · %{x}: %{z:.2f}"
                                               "<extra></extra>"), row=1, col=2)
        for name in ("sin", "cos"):
            fig.add_trace(go.Scatter(mode="lines+markers", marker=dict(size=3), name=name),
                          row=2, col=1)
        fig.add_trace(go.Scatter(mode="markers", name="p, p+k", showlegend=False,
                                 marker=dict(size=10, color="black", symbol="x")), row=2, col=1)
        angle = np.linspace(0, 2 * np.pi, 129)
        fig.add_trace(go.Scatter(x=np.sin(angle), y=np.cos(angle), mode="lines",
                                 line=dict(color="#bbbbbb"), hoverinfo="skip",
                                 showlegend=False), row=2, col=2)
        fig.add_trace(go.Scatter(mode="markers", showlegend=False, name="positions",
                                 marker=dict(size=5, color=[], colorscale="viridis"),
                                 hovertemplate="position %{text}<extra></extra>"), row=2, col=2)
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="black", width=1),
                                 hoverinfo="skip", showlegend=False), row=2, col=2)
        for name, style in (("PE(p)", dict(color="#2ca02c", size=12)),
                            ("PE(p+k)", dict(color="#d62728", size=12)),
                            ("R_k·PE(p)", dict(color="black", size=20, symbol="circle-open",
                                               line=dict(width=2)))):
            fig.add_trace(go.Scatter(mode="markers", name=name, marker=style), row=2, col=2)
        fig.update_layout(width=900, height=860, legend=dict(x=1.02, y=0.4, yanchor="top"))
        fig.update_xaxes(title_text="dimension", row=1, col=1)
        fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=1)
        fig.update_xaxes(title_text="position", row=1, col=2)
        fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=2)
        fig.update_xaxes(title_text="position", row=2, col=1)
        fig.update_yaxes(range=[-1.1, 1.1], row=2, col=1)
        fig.update_xaxes(range=[-1.25, 1.25], title_text="dim 2i (sin)", row=2, col=2)
        fig.update_yaxes(range=[-1.25, 1.25], title_text="dim 2i+1 (cos)", scaleanchor="x4",
                         row=2, col=2)
        self.figure = LiveFigure(fig)

        def slider(cls, key, **kw):
            return self._bind(key, cls(description=key, continuous_update=True, **kw))

        self._sliders = {
            "max_len": slider(W.IntSlider, "max_len", min=2, max=256),
            "d_model": slider(W.IntSlider, "d_model", min=2, max=256, step=2),
            "base": slider(W.FloatLogSlider, "base", base=10, min=0.5, max=6, step=0.05,
                           readout_format=".3g"),
            "dim": slider(W.IntSlider, "dim", min=0, max=1,
                          tooltip="pair i: dimensions 2i and 2i+1"),
            "offset": slider(W.IntSlider, "offset", min=0, max=1),
            "position": slider(W.IntSlider, "position", min=0, max=1),
        }
        self._rotation = self._bind("rotation", W.ToggleButton(description="show rotation",
                                                               icon="rotate-right"))
        s = self._sliders
        self.widget = W.VBox([W.HBox([s["max_len"], s["d_model"], s["base"]]),
                              W.HBox([s["dim"], s["offset"], s["position"], self._rotation]),
                              self.status, self.figure])

    def _render(self, new: dict, old: dict) -> None:
        pe = self.table()  # (max_len, d_model)
        max_len, d_model, i = new["max_len"], new["d_model"], new["dim"]
        k, p, show = new["offset"], new["position"], new["rotation"]
        positions = np.arange(max_len)
        omega = new["base"] ** (-2 * i / d_model)
        R = pe_rotation(k, d_model, new["base"]).double().numpy()  # (d_model, d_model)
        moved = pe[:max_len - k] @ R.T  # (max_len - k, d_model): R_k PE(p) for every p
        self.rotation_error = float(np.linalg.norm(pe[k:] - moved, axis=1).max())
        pair = pe[:, 2 * i:2 * i + 2]  # (max_len, 2): (sin, cos)
        turned = R[2 * i:2 * i + 2, 2 * i:2 * i + 2] @ pair[p]  # (2,)
        fig = self.figure
        self._syncing = True  # slider ranges follow the table; no callbacks meanwhile
        try:
            self._sliders["dim"].max = d_model // 2 - 1
            self._sliders["offset"].max = max_len - 1
            self._sliders["position"].max = max_len - 1 - k
        finally:
            self._syncing = False
        with fig.batch_update():
            fig.data[0].update(z=_compact(pe), x=np.arange(d_model), y=positions)
            sim = pe @ pe.T  # (max_len, max_len)
            fig.data[1].update(z=_compact(sim), x=positions, y=positions)
            fig.data[2].update(x=positions, y=pair[:, 0], name=f"sin, dim {2 * i}")
            fig.data[3].update(x=positions, y=pair[:, 1], name=f"cos, dim {2 * i + 1}")
            fig.data[4].update(x=[p, p + k, p, p + k], visible=show,
                               y=[pair[p, 0], pair[p + k, 0], pair[p, 1], pair[p + k, 1]])
            fig.data[6].update(x=pair[:, 0], y=pair[:, 1], text=positions,
                               marker=dict(color=positions))
            fig.data[7].update(x=[0, pair[p, 0], None, 0, pair[p + k, 0]],
                               y=[0, pair[p, 1], None, 0, pair[p + k, 1]], visible=show)
            for trace, xy in zip(fig.data[8:11], (pair[p], pair[p + k], turned)):
                trace.update(x=[xy[0]], y=[xy[1]], visible=show)
            fig.layout.shapes = [dict(type="rect", xref="x", yref="y domain", x0=2 * i - 0.5,
                                      x1=2 * i + 1.5, y0=0, y1=1,
                                      line=dict(color="black", width=2))]
            titles = fig.layout.annotations
            titles[2].text = (f"dims {2 * i} (sin), {2 * i + 1} (cos) over positions: "
                              f"wavelength {2 * math.pi / omega:.3g}")
            titles[3].text = (f"pair {i} turns by k·ω = {k * omega:.3g} rad from p={p} to "
                              f"p+k={p + k}" if show else f"pair {i}: one point per position")
            fig.layout.title.text = (f"Sinusoidal positional encoding (max_len={max_len}, "
                                     f"d_model={d_model}, base={new['base']:g})")

    def _describe(self) -> str:
        s = self.state
        if not s["rotation"]:
            return ("switch on 'show rotation' to see PE(p+k) as a turn of PE(p)")
        return (f"PE(p+k) = R_k·PE(p) for every p: max over p of ‖PE(p+{s['offset']}) − "
                f"R_{s['offset']}·PE(p)‖ = {self.rotation_error:.1e}")

    def twin(self):
        """A kernel-free plotly figure of the current table (``positional_encoding_plotly``)."""
        s = self.state
        return positional_encoding_plotly(s["max_len"], s["d_model"], s["base"])
