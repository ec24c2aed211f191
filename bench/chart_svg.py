"""Draws the benchmark's ratios as an SVG chart with the Python standard library.

One panel per device, one band per case, one bar per reference, each bar going
left (anygrad slower) or right (anygrad faster) from 1 on a log scale, with the
ratio printed on it. The title says what ran where: machine, load, devices and
reference versions (from summary.describe).
"""
import math
from xml.sax.saxutils import escape

from summary import reference_label

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
COLORS = {"OpenBLAS": "#4c72b0", "CLBlast": "#8172b3", "PyTorch CPU": "#dd8452",
          "PyTorch CUDA": "#55a868"}
LEGEND = {"OpenBLAS": "OpenBLAS (CPU GEMM)", "CLBlast": "CLBlast (OpenCL GEMM)"}
LABEL_W, PLOT_W, VALUE_W, PAD = 222, 262, 40, 14
PANEL_W = LABEL_W + PLOT_W + VALUE_W + PAD
BAR_H, BAR_GAP, BAND_PAD = 12, 2, 4
CHAR_W = 0.56  # average glyph width in em, to wrap and fit text


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222", font=FONT):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="{font}" font-size="{size}" '
            f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def _fit(s, width, size):
    n = int(width / (size * CHAR_W))
    return s if len(s) <= n else s[:max(n - 1, 1)] + "…"


def _wrap(s, width, size):
    n, lines, line = int(width / (size * CHAR_W)), [], ""
    for word in s.split(" "):
        if line and len(line) + 1 + len(word) > n:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def _domain(table):
    lo = min(min(t["ratio"] for t in table), 0.5)
    hi = max(max(t["ratio"] for t in table), 2.0)
    return math.floor(math.log10(lo) * 2) / 2, math.ceil(math.log10(hi) * 2) / 2


def _panel(rows, spec, name, x0, y0, dom):
    lo, hi = dom
    px = x0 + LABEL_W

    def xpos(r):
        return px + (math.log10(r) - lo) / (hi - lo) * PLOT_W

    out = [_text(x0, y0 + 14, spec, 14, weight="bold"),
           _text(x0 + 8 + len(spec) * 14 * 0.62, y0 + 14, _fit(name, PANEL_W - 30 - len(spec) * 9, 11),
                 11, fill="#555")]
    y = y0 + 26
    top = y
    cases = []
    for t in rows:
        if not cases or cases[-1][0] != t["case"]:
            cases.append((t["case"], []))
        cases[-1][1].append(t)
    body = []
    for i, (case, bars) in enumerate(cases):
        h = len(bars) * (BAR_H + BAR_GAP) - BAR_GAP + 2 * BAND_PAD
        if i % 2 == 0:
            body.append(f'<rect x="{x0}" y="{y}" width="{PANEL_W - PAD}" height="{h}" fill="#f3f3f3"/>')
        body.append(_text(px - 6, y + h / 2 + 4, _fit(case, LABEL_W - 8, 11), 11, "end", font=MONO))
        by = y + BAND_PAD
        for t in bars:
            x1, xr = xpos(1.0), xpos(t["ratio"])
            color = COLORS.get(reference_label(t["reference"]), "#888")
            body.append(f'<rect x="{min(x1, xr):.1f}" y="{by}" width="{max(abs(xr - x1), 1):.1f}" '
                        f'height="{BAR_H}" fill="{color}"/>')
            label = f"{t['ratio']:.2f}" if t["ratio"] < 10 else f"{t['ratio']:.1f}"
            if t["ratio"] >= 1:
                body.append(_text(xr + 3, by + BAR_H - 2, label, 10.5))
            elif xr - 3 - len(label) * 10.5 * CHAR_W >= px:
                body.append(_text(xr - 3, by + BAR_H - 2, label, 10.5, "end"))
            else:
                body.append(_text(x1 + 3, by + BAR_H - 2, label, 10.5))
            by += BAR_H + BAR_GAP
        y += h
    bottom = y
    grid = []
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo <= math.log10(v) <= hi:
                x = xpos(v)
                grid.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                            f'stroke="{"#bbb" if m == 1 else "#e2e2e2"}" stroke-width="1"/>')
                if m == 1 or (hi - lo) <= 2:
                    grid.append(_text(x, bottom + 13, f"{v:g}", 10, "middle", fill="#555"))
    x1 = xpos(1.0)
    axis = [f'<line x1="{x1:.1f}" y1="{top - 3}" x2="{x1:.1f}" y2="{bottom + 3}" stroke="#222" '
            f'stroke-width="1.3"/>',
            _text(x1 - 6, bottom + 27, "← reference faster", 10, "end", fill="#555"),
            _text(x1 + 6, bottom + 27, "anygrad faster →", 10, fill="#555")]
    return out + body + grid + axis, bottom + 34 - y0


def render(table, meta, columns=2):
    """SVG text of the chart for the rows of summary.ratios and summary.describe's meta."""
    if not table:
        return None
    dom = _domain(table)
    names = {}
    for t in table:
        names.setdefault(t["device"], t["device_name"])
    devices = sorted(names, key=lambda d: (d != "cpu", d))  # the CPU backend first
    drivers = {d.split(": ", 1)[0]: d.split(": ", 1)[1] for d in meta.get("devices", []) if ": " in d}
    cols = max(1, min(columns, len(devices)))
    width = cols * PANEL_W + 2 * PAD
    head = [_text(PAD, 24, meta["title"], 17, weight="bold")]
    y = 44
    for label, value in (("Machine", f"{meta['machine']}; {meta['load']}"),
                         ("References", meta["references"]),
                         ("Ratio", "reference time / anygrad time: above 1 anygrad is faster")):
        for i, line in enumerate(_wrap(value, width - 2 * PAD - 90, 12)):
            if i == 0:
                head.append(_text(PAD, y, label, 12, weight="bold"))
            head.append(_text(PAD + 90, y, line, 12))
            y += 17
    lx = PAD + 90
    used = {reference_label(t["reference"]) for t in table}
    for label in [k for k in COLORS if k in used] + sorted(used - set(COLORS)):
        text = LEGEND.get(label, label)
        head.append(f'<rect x="{lx}" y="{y - 10}" width="12" height="12" fill="{COLORS.get(label, "#888")}"/>')
        head.append(_text(lx + 17, y, text, 12))
        lx += 17 + len(text) * 12 * CHAR_W + 22
    head.append(_text(PAD, y, "Bars", 12, weight="bold"))
    y += 16
    body, row_h = [], 0
    for i, dev in enumerate(devices):
        col = i % cols
        if col == 0 and i:
            y += row_h + 10
            row_h = 0
        rows = [t for t in table if t["device"] == dev]
        part, h = _panel(rows, dev, drivers.get(dev, names[dev]), PAD + col * PANEL_W, y, dom)
        body += part
        row_h = max(row_h, h)
    height = y + row_h + PAD
    return "\n".join([f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
                      f'viewBox="0 0 {width} {height:.0f}">',
                      f'<rect width="{width}" height="{height:.0f}" fill="white"/>']
                     + head + body + ["</svg>", ""])
