// Time-series charts (uPlot: small, canvas-drawn, fast with thousands of points).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
  format?: (v: number) => string;
  axis?: 'left' | 'right';
  whole?: boolean; // counts: ticks at whole numbers only
}

const wholeSteps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

// Colours from the theme's CSS variables, so both themes read well.
function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

const palette = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'];

export function TimeChart(props: { x: number[]; series: Series[]; height?: number; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const text = cssVar('--muted');
    const grid = cssVar('--line');
    const right = props.series.some((s) => s.axis === 'right');
    const axis = (scale: string, side: number, s?: Series): uPlot.Axis => ({
      scale,
      side,
      stroke: text,
      grid: { stroke: grid, width: 1, show: side === 3 },
      ticks: { stroke: grid },
      values: s?.format ? (_u, ticks) => ticks.map((t) => s.format!(t)) : undefined,
      incrs: s?.whole ? wholeSteps : undefined,
      size: side === 1 ? 92 : 76,
    });
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: props.height ?? 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, left: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        axis(
          'left',
          3,
          props.series.find((s) => s.axis !== 'right'),
        ),
        ...(right
          ? [
              axis(
                'right',
                1,
                props.series.find((s) => s.axis === 'right'),
              ),
            ]
          : []),
      ],
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.label,
          scale: s.axis === 'right' ? 'right' : 'left',
          stroke: cssVar(palette[i % palette.length]),
          width: 2,
          points: { show: props.x.length < 60 },
          value: s.format ? (_u: uPlot, v: number | null) => (v == null ? '—' : s.format!(v)) : undefined,
        })),
      ],
    };
    const plot = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: props.height ?? 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series]);
  return <div class="chart" ref={box} role="img" aria-label={props.title} />;
}
