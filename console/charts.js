// Hand-written SVG charts. Each chart is a <figure>: a titled, described SVG (role="img") and, beside it,
// the same numbers as a table, which is the chart's text alternative and what tests read (every value
// cell carries its exact number in data-value). Series differ by marker shape and line dash as well as
// colour, so nothing depends on seeing colour.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 300;
const MARGIN = { top: 16, right: 150, bottom: 44, left: 56 };
const MARKERS = ['circle', 'square', 'triangle', 'diamond'];
const DASHES = ['', '6 4', '2 3', '8 3 2 3'];

let chartCount = 0;

function svg(name, attributes = {}, children = []) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

function html(name, attributes = {}, children = []) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

export function formatNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(digits);
}

/** About five round tick values covering [min, max]. */
function ticks(min, max, count = 5) {
  if (max === min) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function marker(shape, x, y, className) {
  const r = 4;
  if (shape === 'square') return svg('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, class: className });
  if (shape === 'triangle') return svg('polygon', { points: `${x},${y - r - 1} ${x + r + 1},${y + r} ${x - r - 1},${y + r}`, class: className });
  if (shape === 'diamond') return svg('polygon', { points: `${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}`, class: className });
  return svg('circle', { cx: x, cy: y, r, class: className });
}

function frame(id, title, description) {
  const svgNode = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, class: 'chart-svg', focusable: 'false' }, [
    svg('title', { id: `${id}-title` }, [title]),
    svg('desc', { id: `${id}-desc` }, [description]),
  ]);
  return svgNode;
}

function axes(node, x, y, xTicks, yTicks, xLabel, yLabel) {
  const tick = (v) => String(Number(v.toFixed(4)));
  const [x0, x1] = [MARGIN.left, WIDTH - MARGIN.right];
  const [y0, y1] = [HEIGHT - MARGIN.bottom, MARGIN.top];
  const group = svg('g', { class: 'axes', 'aria-hidden': 'true' });
  for (const t of yTicks) {
    group.append(svg('line', { x1: x0, x2: x1, y1: y(t), y2: y(t), class: 'grid' }));
    group.append(svg('text', { x: x0 - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, [tick(t)]));
  }
  for (const t of xTicks) {
    group.append(svg('line', { x1: x(t), x2: x(t), y1: y0, y2: y0 + 4, class: 'axis' }));
    group.append(svg('text', { x: x(t), y: y0 + 16, 'text-anchor': 'middle', class: 'tick' }, [tick(t)]));
  }
  group.append(svg('line', { x1: x0, x2: x1, y1: y0, y2: y0, class: 'axis' }));
  group.append(svg('line', { x1: x0, x2: x0, y1: y0, y2: y1, class: 'axis' }));
  group.append(svg('text', { x: (x0 + x1) / 2, y: HEIGHT - 6, 'text-anchor': 'middle', class: 'axis-label' }, [xLabel]));
  group.append(svg('text', { x: 14, y: (y0 + y1) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(y0 + y1) / 2})`, class: 'axis-label' }, [yLabel]));
  node.append(group);
}

function dataTable(caption, columns, rows) {
  const head = html('tr', {}, columns.map((column) => html('th', { scope: 'col' }, [column.label])));
  const body = rows.map((row) =>
    html(
      'tr',
      {},
      columns.map((column, i) => {
        const value = row[column.key];
        const cell = html(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : {}, [column.format ? column.format(value) : formatNumber(value)]);
        cell.dataset.series = column.key;
        if (typeof value === 'number') cell.dataset.value = String(value);
        return cell;
      }),
    ),
  );
  return html('table', { class: 'data' }, [html('caption', {}, [caption]), html('thead', {}, [head]), html('tbody', {}, body)]);
}

function figure(id, title, svgNode, legend, table, open) {
  const details = html('details', open ? { open: '' } : {}, [html('summary', {}, [`${title}: the numbers`]), table]);
  return html('figure', { class: 'chart', id }, [html('figcaption', {}, [title]), legend, svgNode, details]);
}

function legendOf(entries) {
  return html(
    'ul',
    { class: 'legend' },
    entries.map((entry) => {
      const sample = svg('svg', { viewBox: '0 0 36 12', width: 36, height: 12, 'aria-hidden': 'true', focusable: 'false' });
      if (entry.kind === 'bar') sample.append(svg('rect', { x: 4, y: 1, width: 28, height: 10, class: entry.className, fill: entry.fill }));
      else {
        sample.append(svg('line', { x1: 0, x2: 36, y1: 6, y2: 6, class: `line ${entry.className}`, 'stroke-dasharray': entry.dash || undefined }));
        if (entry.marker) sample.append(marker(entry.marker, 18, 6, `marker ${entry.className}`));
      }
      return html('li', {}, [sample, ` ${entry.name}`]);
    }),
  );
}

/**
 * Lines over x. `series`: [{ key, name, points: [{x, y}] }] (y null leaves a gap); `references`: dashed
 * guide lines [{ name, points }]. `rows`: the table's rows ({ x, [key]: value }), first column `xLabel`.
 */
export function lineChart({ id, title, description, xLabel, yLabel, series, references = [], xDomain, yDomain, markers = true, formatX = formatNumber, rows, open = false }) {
  const n = ++chartCount;
  const figureId = id ?? `chart-${n}`;
  const all = [...series, ...references].flatMap((s) => s.points).filter((p) => p.y !== null && p.y !== undefined && Number.isFinite(p.y));
  let [xMin, xMax] = xDomain ?? [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
  let [yMin, yMax] = yDomain ?? [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  if (!(xMax > xMin)) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (!(yMax > yMin)) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  if (!yDomain) {
    const pad = (yMax - yMin) * 0.08;
    [yMin, yMax] = [yMin - pad, yMax + pad];
  }
  const x = (v) => MARGIN.left + ((v - xMin) / (xMax - xMin)) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (v) => HEIGHT - MARGIN.bottom - ((v - yMin) / (yMax - yMin)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const node = frame(figureId, title, description);
  const xTicks = xDomain || !all.every((p) => Number.isInteger(p.x)) ? ticks(xMin, xMax) : ticks(xMin, xMax).filter(Number.isInteger);
  axes(node, x, y, xTicks, ticks(yMin, yMax), xLabel, yLabel);
  references.forEach((reference) => {
    const d = reference.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    node.append(svg('path', { d, class: 'reference', 'aria-hidden': 'true' }));
    const last = reference.points.at(-1);
    node.append(svg('text', { x: x(last.x) + 8, y: y(last.y) + 16, class: 'line-label', 'aria-hidden': 'true' }, [`${reference.name} (dashed)`]));
  });
  series.forEach((s, i) => {
    const className = `s${i + 1}`;
    const group = svg('g', { class: 'series', 'data-series': s.key });
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.y === null || p.y === undefined || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)} `;
      pen = true;
    }
    group.append(svg('path', { d: d.trim(), class: `line ${className}`, 'stroke-dasharray': DASHES[i % DASHES.length] || undefined }));
    if (markers) {
      for (const p of s.points) {
        if (p.y === null || p.y === undefined || !Number.isFinite(p.y)) continue;
        const m = marker(MARKERS[i % MARKERS.length], x(p.x), y(p.y), `marker ${className}`);
        m.setAttribute('data-x', String(p.x));
        m.setAttribute('data-y', String(p.y));
        group.append(m);
      }
    }
    const last = s.points.filter((p) => p.y !== null && p.y !== undefined && Number.isFinite(p.y)).at(-1);
    if (last) group.append(svg('text', { x: x(last.x) + 8, y: y(last.y) + 4 + i * 2, class: 'line-label' }, [s.name]));
    node.append(group);
  });
  const legend = legendOf([
    ...series.map((s, i) => ({ name: s.name, className: `s${i + 1}`, marker: markers ? MARKERS[i % MARKERS.length] : null, dash: DASHES[i % DASHES.length] })),
    ...references.map((r) => ({ name: r.name, className: 'reference', dash: '4 4' })),
  ]);
  const columns = [{ key: 'x', label: xLabel, format: formatX }, ...series.map((s) => ({ key: s.key, label: s.name, format: s.format }))];
  return figure(figureId, title, node, legend, dataTable(title, columns, rows), open);
}

/** Side-by-side bars per bin: the first series solid, the second hatched (the pattern is defined in the SVG). */
export function barChart({ id, title, description, xLabel, yLabel, bins, series, open = false }) {
  const n = ++chartCount;
  const figureId = id ?? `chart-${n}`;
  const node = frame(figureId, title, description);
  const patternId = `${figureId}-hatch`;
  node.append(
    svg('defs', {}, [
      svg('pattern', { id: patternId, patternUnits: 'userSpaceOnUse', width: 6, height: 6, patternTransform: 'rotate(45)' }, [
        svg('rect', { width: 6, height: 6, class: 'hatch-back' }),
        svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line' }),
      ]),
    ]),
  );
  const yMax = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (v) => MARGIN.left + v * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (v) => HEIGHT - MARGIN.bottom - (v / yMax) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  axes(node, x, y, ticks(0, 1), ticks(0, yMax).filter(Number.isInteger), xLabel, yLabel);
  const width = (x(bins[0].upper) - x(bins[0].lower)) / series.length;
  series.forEach((s, i) => {
    const group = svg('g', { class: 'series', 'data-series': s.key });
    s.values.forEach((value, b) => {
      const bar = svg('rect', {
        x: x(bins[b].lower) + i * width + 0.5,
        y: y(value),
        width: Math.max(0, width - 1),
        height: y(0) - y(value),
        class: `bar b${i + 1}`,
        fill: i === 1 ? `url(#${patternId})` : undefined,
        'data-value': value,
      });
      group.append(bar);
    });
    node.append(group);
  });
  const legend = legendOf(series.map((s, i) => ({ name: `${s.name}${i === 1 ? ' (hatched)' : ' (solid)'}`, className: `bar b${i + 1}`, fill: i === 1 ? `url(#${patternId})` : undefined, kind: 'bar' })));
  const rows = bins.map((bin, b) => ({ x: `${formatNumber(bin.lower, 2)}–${formatNumber(bin.upper, 2)}`, ...Object.fromEntries(series.map((s) => [s.key, s.values[b]])) }));
  const columns = [{ key: 'x', label: xLabel, format: (v) => v }, ...series.map((s) => ({ key: s.key, label: s.name }))];
  return figure(figureId, title, node, legend, dataTable(title, columns, rows), open);
}
