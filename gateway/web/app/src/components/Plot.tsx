// uPlot on the page: a canvas that follows its box's width, redrawn when the data or
// the language change, with the page's colours and the time axis in local time.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import { number, time } from "../format";
import { locale } from "../i18n";

export interface PlotProps {
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  bands?: uPlot.Band[];
  unit?: string;
  digits?: number;
  xRange?: [number, number];
  height?: number;
  label: string;
}

export function css(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function Plot(props: PlotProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const text = css("--text", "#222");
    const grid = css("--grid", "rgba(0,0,0,0.08)");
    const height = props.height ?? 220;
    const width = () => Math.max(260, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height,
        scales: { x: { time: true, ...(props.xRange ? { min: props.xRange[0], max: props.xRange[1] } : {}) } },
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
        series: [{ value: (_u, v) => (v === null ? "–" : time(v * 1000)) }, ...props.series],
        bands: props.bands,
        axes: [
          { stroke: text, grid: { stroke: grid }, values: (_u, splits) => splits.map((s) => time(s * 1000)) },
          {
            stroke: text,
            grid: { stroke: grid },
            size: 56,
            label: props.unit || undefined,
            values: (_u, splits) => splits.map((s) => number(s, props.digits ?? 0)),
          },
        ],
      },
      props.data,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.data, props.series, locale.value]);
  return <div ref={box} class="chart-box" role="img" aria-label={props.label} />;
}
