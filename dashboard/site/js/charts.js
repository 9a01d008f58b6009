// Charts drawn with uPlot on a category axis (the days of a week). Every series has a legend
// label and its own line style, so none is told apart by colour alone.

import uPlot from '/vendor/uplot/uPlot.esm.js';

/** STYLES are the looks series take in turn: colour plus dash pattern. */
export const STYLES = [
  { stroke: '#1d4f91', fill: 'rgba(29, 79, 145, 0.75)', dash: undefined },
  { stroke: '#a34700', fill: 'rgba(163, 71, 0, 0.6)', dash: [8, 4] },
  { stroke: '#1e6b34', fill: 'rgba(30, 107, 52, 0.6)', dash: [2, 3] },
  { stroke: '#6a1b9a', fill: 'rgba(106, 27, 154, 0.6)', dash: [12, 3, 2, 3] },
];

/**
 * CategoryChart draws series over labelled categories. series: [{label, values, bars, style}].
 * It follows its container's width.
 */
export class CategoryChart {
  constructor(el, { height = 220, yLabel = '' } = {}) {
    this.el = el;
    this.height = height;
    this.yLabel = yLabel;
    this.plot = null;
    this.key = '';
    new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth) this.plot.setSize({ width: this.el.clientWidth, height: this.height });
    }).observe(el);
  }

  set(labels, series) {
    const key = JSON.stringify([labels, series.map((s) => [s.label, !!s.bars])]);
    const data = [labels.map((_, i) => i), ...series.map((s) => s.values.map((v) => (v === null || v === undefined ? null : v)))];
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.key = key;
    this.plot?.destroy();
    const n = labels.length;
    const opts = {
      width: this.el.clientWidth || 400,
      height: this.height,
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      legend: { show: true, live: true },
      scales: {
        x: { time: false, range: [-0.5, n - 0.5] },
        y: { range: (u, min, max) => [0, Math.max(1, Math.ceil((max || 0) * 1.15))] },
      },
      axes: [
        { stroke: '#1b1b1b', grid: { show: false }, ticks: { show: false }, splits: () => labels.map((_, i) => i), values: (u, splits) => splits.map((i) => labels[i] ?? '') },
        { stroke: '#1b1b1b', grid: { stroke: '#d0d4d9', width: 1 }, label: this.yLabel, size: 56 },
      ],
      series: [
        { label: 'Day', value: (u, v) => (v === null || v === undefined ? '' : labels[v] ?? '') },
        ...series.map((s, i) => {
          const st = s.style ?? STYLES[i % STYLES.length];
          return {
            label: s.label,
            stroke: st.stroke,
            width: s.bars ? 1 : 2.5,
            dash: s.bars ? undefined : st.dash,
            fill: s.bars ? st.fill : undefined,
            paths: s.bars ? uPlot.paths.bars({ size: [0.6, 80] }) : undefined,
            points: { show: !s.bars, size: 7, stroke: st.stroke, fill: '#fff' },
            value: (u, v) => (v === null || v === undefined ? '–' : v.toLocaleString('en-GB')),
          };
        }),
      ],
    };
    this.plot = new uPlot(opts, data, this.el);
  }
}
