// One device at its own address: what it is, what it reads (with units), its charts
// over a chosen range with the thresholds that watch them, and its alerts.
import { useEffect, useState } from "preact/hooks";

import { type Alert, type DeviceHistory, get } from "../api";
import { Severity, StateWord } from "../components/Badge";
import { Chart } from "../components/Chart";
import { Link } from "../components/Link";
import { Notice, errorText } from "../components/Notice";
import { Section } from "../components/Table";
import { dateTime, number, orderedReadings, reading, readingName, relative } from "../format";
import { t, tv } from "../i18n";
import { navigate, route, withQuery } from "../router";
import { clock, devices } from "../state";
import { alertText } from "./Alerts";

const RANGES = [1, 24, 168];

export function DevicePage(props: { id: string }) {
  const d = devices.value.get(props.id);
  const hours = RANGES.includes(Number(route.value.query.get("hours"))) ? Number(route.value.query.get("hours")) : 24;
  const [history, setHistory] = useState<DeviceHistory | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<string | null>(null);
  const sensor = d?.kind === "sensor";
  useEffect(() => {
    if (!sensor) return;
    setHistory(null);
    let current = true; // the answer for a range no longer chosen is dropped
    get("/api/devices/{device_id}/history", { device_id: props.id }, { hours })
      .then((h) => current && setHistory(h))
      .catch((e) => current && setError(errorText(e)));
    return () => {
      current = false;
    };
  }, [props.id, hours, sensor]);
  useEffect(() => {
    get("/api/alerts").then((a) =>
      setAlerts([...a.firing, ...a.pending, ...a.resolved].filter((x) => x.device_id === props.id)),
    );
  }, [props.id]);
  if (!d) {
    return (
      <div class="view">
        <p>
          <Link href="/devices">← {t("device.back")}</Link>
        </p>
        <p class="empty">{devices.value.size ? t("device.not_found", { id: props.id }) : t("loading")}</p>
      </div>
    );
  }
  void clock.value;
  const names = orderedReadings(Object.keys(d.readings));
  return (
    <div class="view device">
      <p>
        <Link href="/devices">← {t("device.back")}</Link>
      </p>
      <h1>
        {d.name ?? d.device_id}{" "}
        <StateWord state={d.online ? "up" : "down"} text={t(d.online ? "state.online" : "state.offline")} />
      </h1>
      <div class="two">
        <Section title={t("device.info")}>
          <dl class="facts">
            <dt>{t("col.device")}</dt>
            <dd class="mono">{d.device_id}</dd>
            <dt>{t("device.address")}</dt>
            <dd class="mono">{d.address}</dd>
            <dt>{t("col.kind")}</dt>
            <dd>
              {tv("kind", d.kind)} · {d.model}
            </dd>
            <dt>{t("col.last_seen")}</dt>
            <dd>
              {relative(d.last_seen, clock.value)} ({dateTime(d.last_seen)})
            </dd>
            <dt>{t("device.first_seen")}</dt>
            <dd>{dateTime(d.first_seen)}</dd>
            <dt>{t("col.rssi")}</dt>
            <dd>{d.rssi === null ? "–" : `${d.rssi} dBm`}</dd>
            <dt>{t("col.battery")}</dt>
            <dd>
              {d.battery_pct === null ? "–" : `${number(d.battery_pct)} %`}
              {d.battery_mv !== null && ` (${d.battery_mv} mV)`}
            </dd>
            {d.tags.length > 0 && (
              <>
                <dt>{t("col.tags")}</dt>
                <dd>
                  {d.tags.map((x) => (
                    <Link key={x} href={`/devices?tag=${encodeURIComponent(x)}`} class="tag">
                      {x}
                    </Link>
                  ))}
                </dd>
              </>
            )}
            {d.owner !== undefined && (
              <>
                <dt>{t("device.owner_epoch")}</dt>
                <dd>
                  {d.owner ?? "–"}
                  {d.owner_epoch ? ` (#${d.owner_epoch})` : ""}
                </dd>
              </>
            )}
            {d.kind === "label" && (
              <>
                <dt>{t("nav.labels")}</dt>
                <dd>
                  <Link href={`/shelf/${d.device_id}`}>{t("labels.search.go")}</Link>
                </dd>
              </>
            )}
          </dl>
        </Section>
        {names.length > 0 && (
          <Section title={t("col.readings")}>
            <table class="table readings-table">
              <tbody>
                {names.map((n) => (
                  <tr key={n}>
                    <th scope="row">{readingName(n)}</th>
                    <td>{reading(n, d.readings[n])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        )}
      </div>
      {sensor && (
        <Section title={t("device.charts")} id="charts">
          <div class="segmented" role="group" aria-label={t("device.range")}>
            {RANGES.map((h) => (
              <button
                key={h}
                type="button"
                aria-pressed={h === hours}
                onClick={() => navigate(withQuery({ hours: h === 24 ? null : h }), true)}
              >
                {t(`device.range.${h}`)}
              </button>
            ))}
          </div>
          <Notice tone="error" text={error} />
          {history === null ? (
            <p class="loading">{t("loading")}</p>
          ) : Object.keys(history.series).length === 0 ? (
            <p class="empty">{t("device.no_data")}</p>
          ) : (
            <div class="charts">
              {orderedReadings(Object.keys(history.series)).map((name) => (
                <Chart
                  key={name}
                  name={name}
                  points={history.series[name]}
                  thresholds={history.thresholds.filter((x) => x.metric === name)}
                  hours={history.hours}
                  bucketS={history.bucket_s ?? 300}
                />
              ))}
            </div>
          )}
        </Section>
      )}
      <Section title={t("device.alerts")}>
        {alerts.length === 0 ? (
          <p class="muted">{t("device.no_alerts")}</p>
        ) : (
          <ul class="alert-list">
            {alerts.map((a) => (
              <li key={a.id}>
                <Severity severity={a.severity} /> {alertText(a)} · {tv("phase", a.phase)} ·{" "}
                {relative(a.started_at, clock.value)}
              </li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}
