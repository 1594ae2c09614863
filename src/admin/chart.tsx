// Time charts with uPlot (small, canvas, no dependencies): bars for requests, a line for tokens on
// their own axis. Colours come from the page's CSS variables, so light and dark both read well.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { compact } from "./format.ts";

export interface ChartSeries {
  label: string;
  values: number[];
  /** A CSS variable holding the colour, e.g. "--accent". */
  color: string;
  kind: "bars" | "line";
  /** Which axis: "count" (left) or "tokens" (right). */
  scale: "count" | "tokens";
}

/** A CSS variable's colour as #rrggbb (the canvas normalises whatever the stylesheet minifier wrote, e.g. #36d). */
function cssColor(name: string): string {
  const context = document.createElement("canvas").getContext("2d")!;
  context.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888888";
  return context.fillStyle;
}

export function TimeChart(props: { label: string; x: number[]; series: ChartSeries[]; height?: number; step: "hour" | "day" }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const axisColor = cssColor("--muted");
    const step = props.step === "hour" ? 3_600 : 86_400;
    const grid = { stroke: cssColor("--line"), width: 1 };
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: props.height ?? 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // One point alone would stretch the time axis over years: half a step either side instead.
      scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - step / 2, max + step / 2] : [min, max]) }, count: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] }, tokens: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: axisColor, grid, values: (_u, ticks) => ticks.map((tick) => label(tick, props.step)) },
        { scale: "count", stroke: axisColor, grid, values: (_u, ticks) => ticks.map(compact), size: 48 },
        ...(props.series.some((entry) => entry.scale === "tokens") ? [{ scale: "tokens", side: 1 as const, stroke: axisColor, grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map(compact), size: 52 }] : []),
      ],
      series: [
        { value: (_u, value) => (value === null ? "" : label(value, props.step)) },
        ...props.series.map((entry) => ({
          label: entry.label, scale: entry.scale, stroke: cssColor(entry.color), width: 2,
          fill: entry.kind === "bars" ? `${cssColor(entry.color)}99` : undefined,
          paths: entry.kind === "bars" ? uPlot.paths.bars!({ size: [0.7, 40] }) : undefined,
          points: { show: false },
          value: (_u: uPlot, value: number | null) => (value === null ? "" : compact(value)),
        })),
      ],
    };
    const plot = new uPlot(options, [props.x, ...props.series.map((entry) => entry.values)], element);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 200), height: props.height ?? 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series, props.height, props.step]);
  return <div class="chart" ref={box} role="img" aria-label={props.label} />;
}

function label(seconds: number, step: "hour" | "day"): string {
  const date = new Date(seconds * 1000);
  return step === "hour" ? `${String(date.getHours()).padStart(2, "0")}:00` : `${date.getMonth() + 1}/${date.getDate()}`;
}

/** Categories (keys, models, credentials) as horizontal bars: plain elements, readable by everyone. */
export function BarList(props: { rows: { label: string; value: number; detail?: string }[]; unit: string }) {
  const max = Math.max(1, ...props.rows.map((row) => row.value));
  return (
    <ul class="bars">
      {props.rows.map((row) => (
        <li key={row.label}>
          <span class="bar-label" title={row.label}>{row.label}</span>
          <span class="bar-track"><span class="bar-fill" style={{ width: `${(row.value / max) * 100}%` }} /></span>
          <span class="bar-value">{compact(row.value)} {props.unit}{row.detail ? ` · ${row.detail}` : ""}</span>
        </li>
      ))}
    </ul>
  );
}
