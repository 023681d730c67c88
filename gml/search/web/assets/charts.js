// search-ctl serve: small SVG charts written for this page (no library, no
// build step). Many lines or points of one kind are drawn as one <path>, so
// a task of 1,000 trials x 100 steps stays a few dozen SVG elements.
'use strict';

const Charts = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const MARGIN = { left: 58, right: 14, top: 24, bottom: 40 };

  // An SVG element with attributes; text is set as text, never as markup.
  function el(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      node.setAttribute(key, value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A short label for a number.
  function fmt(value) {
    if (value === null || value === undefined) return '–';
    if (typeof value !== 'number') return String(value);
    if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
    return String(+value.toPrecision(4));
  }

  // About n round numbers covering [lo, hi].
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    const step = mag * (r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1);
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      ticks.push(+v.toPrecision(12));
    }
    return ticks;
  }

  // An axis for the given values: numbers (log scale when positive and
  // spread over more than 50x), or categories in sorted order.
  function axisFor(values, label) {
    const present = values.filter(v => v !== null && v !== undefined);
    if (present.length && present.every(v => typeof v === 'number')) {
      let min = Math.min(...present), max = Math.max(...present);
      const log = min > 0 && max / min > 50;
      if (min === max) {
        const pad = log ? 0 : (Math.abs(min) || 1) * 0.1;
        min -= pad; max += pad;
      }
      return { kind: 'num', min, max, log, label };
    }
    const names = [...new Set(present.map(v => key(v)))].sort();
    return { kind: 'cat', categories: names, label };
  }

  function key(value) {
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  // A function from a value of the axis to a pixel in [a, b].
  function scale(axis, a, b) {
    if (axis.kind === 'cat') {
      const index = new Map(axis.categories.map((c, i) => [c, i]));
      const n = Math.max(axis.categories.length, 1);
      return v => {
        const i = index.get(key(v));
        return i === undefined ? NaN : a + (i + 0.5) / n * (b - a);
      };
    }
    const t = axis.log ? Math.log10 : (v => v);
    const lo = t(axis.min), hi = t(axis.max);
    const span = hi - lo || 1;
    return v => a + (t(v) - lo) / span * (b - a);
  }

  function tickValues(axis, n) {
    if (axis.kind === 'cat') return axis.categories;
    if (axis.log) {
      const ticks = [];
      for (let e = Math.ceil(Math.log10(axis.min)); e <= Math.floor(Math.log10(axis.max)); e++) {
        ticks.push(Math.pow(10, e));
      }
      if (ticks.length >= 2) return ticks;
    }
    return niceTicks(axis.min, axis.max, n).filter(v => v >= axis.min && v <= axis.max);
  }

  function shorten(text, size) {
    return text.length > size ? text.slice(0, size - 1) + '…' : text;
  }

  // A chart area with axes: {svg, X, Y, layer, width, height}.
  function frame(parent, opts) {
    const width = opts.width || 460, height = opts.height || 270;
    const svg = el('svg', { width, height, class: 'chart', id: opts.id || '' });
    const left = MARGIN.left, right = width - MARGIN.right;
    const top = MARGIN.top, bottom = height - MARGIN.bottom;
    const X = scale(opts.x, left, right), Y = scale(opts.y, bottom, top);
    svg.appendChild(el('text', { x: left, y: 15, class: 'title' }, opts.title || ''));
    const axes = el('g', { class: 'axis' });
    axes.appendChild(el('line', { x1: left, y1: bottom, x2: right, y2: bottom }));
    axes.appendChild(el('line', { x1: left, y1: top, x2: left, y2: bottom }));
    const xTicks = tickValues(opts.x, 5);
    const every = Math.ceil(xTicks.length / 8);
    xTicks.forEach((v, i) => {
      const x = X(v);
      axes.appendChild(el('line', { x1: x, y1: bottom, x2: x, y2: bottom + 4 }));
      if (i % every === 0) {
        axes.appendChild(el('text', { x, y: bottom + 15, 'text-anchor': 'middle' },
          shorten(opts.x.kind === 'cat' ? v : fmt(v), 10)));
      }
    });
    for (const v of tickValues(opts.y, 5)) {
      const y = Y(v);
      axes.appendChild(el('line', { x1: left, y1: y, x2: right, y2: y, class: 'grid' }));
      axes.appendChild(el('text', { x: left - 5, y: y + 4, 'text-anchor': 'end' },
        shorten(opts.y.kind === 'cat' ? v : fmt(v), 9)));
    }
    axes.appendChild(el('text', { x: (left + right) / 2, y: height - 6, 'text-anchor': 'middle' },
      opts.x.label || ''));
    axes.appendChild(el('text', { x: 12, y: (top + bottom) / 2, 'text-anchor': 'middle',
      transform: `rotate(-90 12 ${(top + bottom) / 2})` }, opts.y.label || ''));
    svg.appendChild(axes);
    const layer = el('g', {});
    svg.appendChild(layer);
    parent.appendChild(svg);
    return { svg, X, Y, layer, width, height };
  }

  // One <path> through many polylines: [[x, y], ...] lists in pixels.
  function pathOf(lines) {
    const parts = [];
    for (const points of lines) {
      let move = true;
      for (const [x, y] of points) {
        if (!isFinite(x) || !isFinite(y)) { move = true; continue; }
        parts.push((move ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1));
        move = false;
      }
    }
    return parts.join('');
  }

  function path(layer, lines, attrs) {
    const node = el('path', Object.assign({ d: pathOf(lines) }, attrs));
    layer.appendChild(node);
    return node;
  }

  // Small crosses or diamonds at pixel points, as one path.
  function marks(layer, points, kind) {
    const d = points.filter(([x, y]) => isFinite(x) && isFinite(y)).map(([x, y]) =>
      kind === 'stopped'
        ? `M${x - 4} ${y - 4}L${x + 4} ${y + 4}M${x - 4} ${y + 4}L${x + 4} ${y - 4}`
        : `M${x} ${y - 5}L${x + 5} ${y}L${x} ${y + 5}L${x - 5} ${y}Z`).join('');
    layer.appendChild(el('path', { d, class: 'mark-' + kind }));
  }

  // Points with a tooltip each; onClick(point) when one is clicked.
  function points(layer, items, onClick) {
    for (const item of items) {
      if (!isFinite(item.x) || !isFinite(item.y)) continue;
      const dot = el('circle', { cx: item.x.toFixed(1), cy: item.y.toFixed(1), r: 3.5,
        fill: item.color });
      dot.appendChild(el('title', {}, item.tip));
      if (onClick) dot.addEventListener('click', () => onClick(item));
      layer.appendChild(dot);
    }
  }

  // A colour from light (t = 0) to dark blue (t = 1).
  function ramp(t) {
    t = Math.max(0, Math.min(1, t));
    const mix = (a, b) => Math.round(a + (b - a) * t);
    return `rgb(${mix(254, 8)},${mix(196, 48)},${mix(79, 107)})`;
  }

  // Parallel coordinates: one axis per entry of axes ({name, axis, get}),
  // one polyline per row, coloured by colorOf(row) in [0, 1].
  function parallel(parent, rows, axes, colorOf, opts) {
    const width = Math.max(opts.width || 0, 120 * axes.length + 60);
    const height = opts.height || 300;
    const svg = el('svg', { width, height, class: 'chart', id: opts.id || '' });
    svg.appendChild(el('text', { x: 10, y: 15, class: 'title' }, opts.title || ''));
    const top = 44, bottom = height - 28;
    const xs = axes.map((_, i) => 50 + i * (width - 100) / Math.max(axes.length - 1, 1));
    const scales = axes.map(a => scale(a.axis, bottom, top));
    const buckets = new Map();  // colour steps -> polylines, few paths in all
    for (const row of rows) {
      const step = Math.round(colorOf(row) * 8) / 8;
      const line = axes.map((a, i) => [xs[i], scales[i](a.get(row))]);
      if (!buckets.has(step)) buckets.set(step, []);
      buckets.get(step).push(line);
    }
    const layer = el('g', {});
    [...buckets.keys()].sort().forEach(step =>
      path(layer, buckets.get(step), { class: 'pc', stroke: ramp(step) }));
    svg.appendChild(layer);
    axes.forEach((a, i) => {
      const g = el('g', { class: 'axis' });
      g.appendChild(el('line', { x1: xs[i], y1: top, x2: xs[i], y2: bottom }));
      g.appendChild(el('text', { x: xs[i], y: 32, 'text-anchor': 'middle' }, shorten(a.name, 18)));
      const ticks = tickValues(a.axis, 4);
      const every = Math.ceil(ticks.length / 8);
      ticks.forEach((v, j) => {
        if (j % every) return;
        g.appendChild(el('text', { x: xs[i] + 4, y: scales[i](v) + 4 },
          shorten(a.axis.kind === 'cat' ? v : fmt(v), 12)));
      });
      svg.appendChild(g);
    });
    parent.appendChild(svg);
    return svg;
  }

  // Horizontal bars: items [{name, value}] with value in [0, 1].
  function bars(parent, items, opts) {
    const row = 22, width = opts.width || 460;
    const height = 30 + row * items.length;
    const svg = el('svg', { width, height, class: 'chart', id: opts.id || '' });
    svg.appendChild(el('text', { x: 10, y: 15, class: 'title' }, opts.title || ''));
    const left = 150, right = width - 60;
    items.forEach((item, i) => {
      const y = 26 + i * row;
      svg.appendChild(el('text', { x: left - 6, y: y + 13, 'text-anchor': 'end' },
        shorten(item.name, 22)));
      svg.appendChild(el('rect', { x: left, y: y + 2, height: row - 6,
        width: Math.max(1, item.value * (right - left)), class: 'bar' }));
      svg.appendChild(el('text', { x: left + item.value * (right - left) + 6, y: y + 13 },
        (100 * item.value).toFixed(1) + '%'));
    });
    parent.appendChild(svg);
    return svg;
  }

  return { el, fmt, axisFor, frame, path, marks, points, parallel, bars, ramp, key };
})();
