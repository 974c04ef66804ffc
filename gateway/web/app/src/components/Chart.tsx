// A reading over time: the mean of each bucket as a line, its lowest and highest as a
// band, the alert rules that watch it as dashed lines at their thresholds, axes with
// the unit and the time. A silent sensor leaves a gap, not a line. The time axis spans
// the data it has within the range asked for, so ten minutes of data fill the chart
// instead of hugging its right edge.
import { useMemo } from "preact/hooks";
import type uPlot from "uplot";

import type { DeviceHistory } from "../api";
import { number, readingName, time, unitOf } from "../format";
import { t } from "../i18n";
import { Plot, css } from "./Plot";

type Point = DeviceHistory["series"][string][number];
type Threshold = DeviceHistory["thresholds"][number];

const SEVERITY_COLOURS: Record<string, string> = {
  critical: "#c62828",
  warning: "#ef6c00",
  info: "#1565c0",
};

/** The columns uPlot draws, with a null between buckets further apart than two. */
export function columns(points: Point[], bucketS: number): [number[], (number | null)[][]] {
  const xs: number[] = [];
  const mean: (number | null)[] = [];
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  let last: number | null = null;
  for (const p of points) {
    const x = Date.parse(p.start) / 1000;
    if (last !== null && x - last > 2 * bucketS) {
      xs.push((last + x) / 2);
      mean.push(null);
      lo.push(null);
      hi.push(null);
    }
    xs.push(x);
    mean.push(p.mean);
    lo.push(p.min);
    hi.push(p.max);
    last = x;
  }
  return [xs, [mean, lo, hi]];
}

export function Chart(props: {
  name: string;
  points: Point[];
  thresholds: Threshold[];
  hours: number;
  bucketS: number;
}) {
  const { name, points, thresholds, hours, bucketS } = props;
  const unit = unitOf(name);
  const digits = unit.digits || 1;
  const title = readingName(name) + (unit.unit ? ` (${unit.unit})` : "");
  const fmt = (_u: uPlot, v: number | null) => (v === null ? "–" : number(v, digits));
  const plot = useMemo(() => {
    if (!points.length) return null;
    const [xs, [mean, lo, hi]] = columns(points, bucketS);
    const accent = css("--accent", "#1565c0");
    const now = Date.now() / 1000;
    const series: uPlot.Series[] = [
      { label: t("chart.mean"), stroke: accent, width: 2, spanGaps: false, value: fmt },
      { label: `${t("chart.range")} ↓`, stroke: "transparent", spanGaps: false, value: fmt },
      { label: `${t("chart.range")} ↑`, stroke: "transparent", spanGaps: false, value: fmt },
      ...thresholds.map((th) => ({
        label: t("chart.threshold", {
          rule: th.rule,
          op: th.op === "above" ? ">" : "<",
          value: number(th.threshold, digits),
        }),
        stroke: SEVERITY_COLOURS[th.severity] ?? "#888",
        dash: [6, 4],
        width: 1.5,
        points: { show: false },
        value: fmt,
      })),
    ];
    const data = [xs, mean, lo, hi, ...thresholds.map((th) => xs.map(() => th.threshold))];
    return {
      data: data as uPlot.AlignedData,
      series,
      bands: [{ series: [3, 2] as [number, number], fill: `${accent}33` }],
      xRange: [Math.max(now - hours * 3600, xs[0] - bucketS), now] as [number, number],
    };
  }, [points, thresholds, hours, bucketS]);
  const values = points.flatMap((p) => [p.min, p.max]);
  const limits = thresholds.map((th) => `${th.rule} ${th.op === "above" ? ">" : "<"} ${th.threshold}`);
  const summary = values.length
    ? `${title}: ${number(Math.min(...values), digits)} – ${number(Math.max(...values), digits)}${limits.length ? `; ${limits.join(", ")}` : ""}`
    : title;
  return (
    <figure class="chart" data-reading={name}>
      <figcaption>
        <strong>{title}</strong>
        {points.length > 0 && <span class="muted"> · {t("energy.since", { time: time(points[0].start) })}</span>}
      </figcaption>
      {plot ? (
        <Plot {...plot} unit={unit.unit} digits={unit.digits} label={summary} />
      ) : (
        <p class="empty">{t("device.no_data")}</p>
      )}
    </figure>
  );
}
