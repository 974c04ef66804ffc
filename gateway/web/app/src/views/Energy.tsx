// Energy: each zone as its controller reports it and why the plan set it so (a zone far
// from its setpoint flagged), today's footfall expected and counted, each air-conditioned
// zone's temperature against its setpoint, and today's energy beside the fixed schedule
// the store ran before. Technicians override a zone for a bounded time, inline.
import { useEffect, useMemo, useState } from "preact/hooks";
import uPlot from "uplot";

import { type Energy as EnergyView, get, post } from "../api";
import { StateWord } from "../components/Badge";
import { Icon } from "../components/Icon";
import { Notice, errorText } from "../components/Notice";
import { Plot, css } from "../components/Plot";
import { Section } from "../components/Table";
import { dateTime, number, relative, time } from "../format";
import { t, tv } from "../i18n";
import { canAct, clock } from "../state";

type Zone = EnergyView["zones"][number];
const SLOT_S = 900;
const OFF_BAND_C = 2.0; // a zone this far from its setpoint is flagged

function slots(n: number): number[] {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const start = midnight.getTime() / 1000;
  return Array.from({ length: n }, (_, i) => start + i * SLOT_S);
}

function Footfall(props: { e: EnergyView }) {
  const { e } = props;
  const plot = useMemo(() => {
    const xs = slots(e.forecast_today.length);
    const counted = e.footfall_today ?? [];
    const accent = css("--accent", "#1565c0");
    const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8] }) : undefined;
    return {
      data: [xs, e.forecast_today, counted] as uPlot.AlignedData,
      series: [
        { label: t("energy.expected"), stroke: `${accent}88`, fill: `${accent}33`, width: 1, paths: bars },
        { label: t("energy.counted"), stroke: "#2e7d32", width: 2, spanGaps: false },
      ] as uPlot.Series[],
    };
  }, [e.forecast_today, e.footfall_today]);
  const total = e.forecast_today.reduce((a, b) => a + b, 0);
  const counted = (e.footfall_today ?? []).some((v) => v !== null && v > 0);
  return (
    <figure class="chart">
      <figcaption>
        <strong>{t("energy.footfall")}</strong>
      </figcaption>
      {total > 0 || counted ? (
        <Plot {...plot} label={`${t("energy.footfall")}: ${t("energy.expected")} ${number(total)}`} height={180} />
      ) : (
        <p class="empty">{t("energy.no_footfall")}</p>
      )}
    </figure>
  );
}

function ZoneCourse(props: { z: Zone }) {
  const { z } = props;
  const temps = z.course.map((c) => (c ? c[0] : null));
  const setpoints = z.course.map((c) => (c ? c[1] : null));
  const plot = useMemo(() => {
    const xs = slots(z.course.length);
    return {
      data: [xs, temps, setpoints] as uPlot.AlignedData,
      series: [
        {
          label: t("energy.temperature"),
          stroke: css("--accent", "#1565c0"),
          width: 2,
          spanGaps: false,
          points: { show: true, size: 4 },
        },
        { label: t("energy.setpoint"), stroke: "#ef6c00", dash: [6, 4], width: 1.5, spanGaps: false },
      ] as uPlot.Series[],
    };
  }, [z.course]);
  const any = temps.some((v) => v !== null);
  return (
    <figure class="chart" data-zone={z.zone}>
      <figcaption>
        <strong>{z.zone}</strong> <span class="muted">(°C)</span>
      </figcaption>
      {any ? <Plot {...plot} unit="°C" digits={1} label={`${z.zone}: ${t("energy.temps")}`} height={180} /> : <p class="empty">{t("device.no_data")}</p>}
    </figure>
  );
}

function Override(props: { z: Zone; onDone: (text: string) => void }) {
  const { z } = props;
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const hvac = z.kind === "hvac";
  const id = `zone-${z.zone}`;
  if (z.override) {
    return (
      <div class="actions">
        <button
          type="button"
          data-release={z.zone}
          onClick={async () => {
            try {
              await post("/api/energy/zones/{zone}/release", { zone: z.zone }, undefined);
              props.onDone(t("energy.release.done"));
            } catch (e) {
              setError(errorText(e));
            }
          }}
        >
          {t("energy.release")}
        </button>
        <Notice tone="error" text={error} />
      </div>
    );
  }
  if (!open) {
    return (
      <button type="button" data-open-override={z.zone} onClick={() => setOpen(true)}>
        {t("energy.override")}…
      </button>
    );
  }
  return (
    <form
      class="override"
      data-override={z.zone}
      onSubmit={async (ev) => {
        ev.preventDefault();
        const form = new FormData(ev.currentTarget);
        const value = Number(form.get("value"));
        const body: { on: boolean; duration_s: number; setpoint?: number; level?: number } = {
          on: form.get("on") === "on",
          duration_s: Number(form.get("minutes")) * 60,
        };
        if (hvac) body.setpoint = value;
        else body.level = value;
        try {
          const done = await post("/api/energy/zones/{zone}/override", { zone: z.zone }, body);
          setError(null);
          setOpen(false);
          props.onDone(t("energy.override.done", { until: dateTime(done.until) }));
        } catch (e) {
          setError(errorText(e));
        }
      }}
    >
      <label>
        <input type="checkbox" name="on" defaultChecked /> {t("energy.on")}
      </label>
      <label for={`${id}-value`}>{hvac ? `${t("energy.setpoint")} (°C)` : `${t("energy.level")} (%)`}</label>
      <input
        id={`${id}-value`}
        name="value"
        type="number"
        step={hvac ? "0.5" : "1"}
        defaultValue={String(hvac ? (z.setpoint ?? 21) : (z.level ?? 100))}
      />
      <label for={`${id}-minutes`}>{t("energy.override.for")}</label>
      <input id={`${id}-minutes`} name="minutes" type="number" min="1" max="240" defaultValue="60" />
      <button type="submit" class="primary">
        {t("energy.override")}
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        {t("cancel")}
      </button>
      <Notice tone="error" text={error} />
    </form>
  );
}

export function Energy() {
  const [e, setE] = useState<EnergyView | null>(null);
  const [missing, setMissing] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const load = () =>
    get("/api/energy")
      .then(setE)
      .catch(() => setMissing(true));
  useEffect(() => {
    void load();
    const every = setInterval(() => void load(), 10000);
    return () => clearInterval(every);
  }, []);
  if (missing) return <p class="empty">{t("energy.none")}</p>;
  if (!e) return <p class="loading">{t("loading")}</p>;
  void clock.value;
  const metered = e.zones.filter((z) => z.today.kwh !== null && z.today.fixed_schedule_kwh !== null);
  const used = metered.reduce((a, z) => a + (z.today.kwh ?? 0), 0);
  const fixed = metered.reduce((a, z) => a + (z.today.fixed_schedule_kwh ?? 0), 0);
  const since = e.zones.map((z) => z.today.since).filter((x): x is string => Boolean(x)).sort()[0];
  const hourOfData = since !== undefined && clock.value - Date.parse(since) >= 3600 * 1000;
  return (
    <div class="view energy">
      <h1>{t("energy.title")}</h1>
      <p class="lead">
        <StateWord state={e.open ? "up" : "muted"} text={t(e.open ? "energy.open" : "energy.closed")} /> ·{" "}
        {t("energy.forecast_mape")}: {e.forecast_mape === null ? "–" : `${number(e.forecast_mape, 1)} %`} ·{" "}
        {t("energy.learned_days")}: {e.learned_days} ·{" "}
        {e.settings.from === "cloud"
          ? t("energy.settings.cloud", { version: e.settings.version })
          : t("energy.settings.config")}
      </p>
      <Notice tone="ok" text={done} onClose={() => setDone(null)} />
      <table class="table cards-on-phone" id="zone-table">
        <thead>
          <tr>
            <th scope="col">{t("energy.zone")}</th>
            <th scope="col">{t("energy.on")}</th>
            <th scope="col">
              {t("energy.setpoint")} / {t("energy.level")}
            </th>
            <th scope="col">{t("energy.temperature")}</th>
            <th scope="col">{t("energy.why")}</th>
            <th scope="col">{t("energy.today")}</th>
            {canAct.value && <th scope="col">{t("energy.override")}</th>}
          </tr>
        </thead>
        <tbody>
          {e.zones.map((z) => {
            const off =
              z.kind === "hvac" && z.on && z.temperature !== null && z.setpoint !== null &&
              Math.abs((z.temperature ?? 0) - (z.setpoint ?? 0)) >= OFF_BAND_C;
            return (
              <tr key={z.zone} data-zone={z.zone}>
                <td data-label={t("energy.zone")}>{z.zone}</td>
                <td data-label={t("energy.on")}>
                  {z.reachable ? (
                    z.on === null ? "–" : t(z.on ? "yes" : "no")
                  ) : (
                    <StateWord state="down" text={t("energy.unreachable")} />
                  )}
                </td>
                <td data-label={`${t("energy.setpoint")} / ${t("energy.level")}`} class="zone-value">
                  {z.kind === "hvac"
                    ? z.setpoint === null || z.setpoint === undefined ? "–" : `${number(z.setpoint, 1)} °C`
                    : z.level === null || z.level === undefined ? "–" : `${z.level} %`}
                </td>
                <td data-label={t("energy.temperature")}>
                  {z.temperature === null || z.temperature === undefined ? "–" : `${number(z.temperature, 1)} °C`}
                  {off && (
                    <span class="badge sev-warning">
                      <Icon name="warning" /> {t("energy.off_band", { delta: number(Math.abs((z.temperature ?? 0) - (z.setpoint ?? 0)), 1) })}
                    </span>
                  )}
                </td>
                <td data-label={t("energy.why")} class="zone-why">
                  {z.override
                    ? t("energy.overridden", { user: z.override.user, until: relative(z.override.until, clock.value) })
                    : tv("why", z.why ?? null)}
                  {z.problem && <small class="why block">{z.problem}</small>}
                </td>
                <td data-label={t("energy.today")}>
                  <span class="zone-kwh">{z.today.kwh === null ? "–" : `${number(z.today.kwh, 1)} kWh`}</span>
                  {z.today.fixed_schedule_kwh !== null && (
                    <small class="muted block">
                      {t("energy.fixed")}: <span class="zone-fixed">{number(z.today.fixed_schedule_kwh, 1)} kWh</span>
                    </small>
                  )}
                </td>
                {canAct.value && (
                  <td data-label={t("energy.override")}>
                    <Override
                      z={z}
                      onDone={(text) => {
                        setDone(text);
                        void load();
                      }}
                    />
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <Section title={t("energy.used")}>
        {metered.length && fixed > 0 ? (
          <p id="energy-total">
            {number(used, 1)} kWh · {t("energy.fixed")}: {number(fixed, 1)} kWh ·{" "}
            {since && t("energy.since", { time: time(since) })} ·{" "}
            {hourOfData ? t("energy.saved", { pct: number(100 * (1 - used / fixed)) }) : t("energy.saved.early")}
          </p>
        ) : (
          <p class="muted">{t("energy.no_meter")}</p>
        )}
      </Section>
      <div class="charts">
        <Footfall e={e} />
        {e.zones
          .filter((z) => z.kind === "hvac")
          .map((z) => (
            <ZoneCourse key={z.zone} z={z} />
          ))}
      </div>
    </div>
  );
}
