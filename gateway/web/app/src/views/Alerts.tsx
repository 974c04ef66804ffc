// Alerts that fire, wait, or resolved lately: what, where (a link to the device and its
// chart), since when; technicians acknowledge, silence and lift a silence, inline.
import { useEffect, useState } from "preact/hooks";

import { type Alert, get, post } from "../api";
import { Severity } from "../components/Badge";
import { Link } from "../components/Link";
import { Notice, errorText } from "../components/Notice";
import { number, reading, readingName, relative } from "../format";
import { has, t, tv } from "../i18n";
import { canAct, clock, devices } from "../state";

/** An alert's message in the page's language: built-in rules by their name, a store's
 * own rules as their configuration words them. */
export function alertText(a: Alert): string {
  const key = `alert.${a.rule}`;
  const device = a.device_id ? devices.value.get(a.device_id) : undefined;
  if (!has(key)) {
    // A store's own rule: its reading, value and threshold, in the page's words.
    if (a.value === null || a.value === undefined || a.threshold === undefined) return a.message ?? a.rule;
    return t("alert.rule", {
      name: device?.name ?? a.device_id ?? t("app.title"),
      reading: readingName(a.metric),
      value: reading(a.metric, a.value),
      op: t(a.value >= a.threshold ? "alert.above" : "alert.below"),
      threshold: reading(a.metric, a.threshold),
    });
  }
  const value = a.value ?? null;
  return t(key, {
    name: device?.name ?? a.device_id ?? "",
    value: value === null ? "–" : a.metric === "buffer_share" ? `${number(value * 100)} %` : number(value, value % 1 ? 1 : 0),
    threshold: number(a.threshold ?? null, 0),
  });
}

type Lists = { firing: Alert[]; pending: Alert[]; resolved: Alert[] };

export function Alerts() {
  const [lists, setLists] = useState<Lists | null>(null);
  const [note, setNote] = useState<{ id: string; tone: "error" | "ok"; text: string } | null>(null);
  const load = () => get("/api/alerts").then(setLists);
  useEffect(() => {
    void load();
    const every = setInterval(() => void load(), 5000);
    return () => clearInterval(every);
  }, []);
  if (!lists) return <p class="loading">{t("loading")}</p>;
  const act = async (a: Alert, what: "acknowledge" | "silence" | "unsilence") => {
    const id = { alert_id: a.id ?? "" };
    try {
      if (what === "silence") await post("/api/alerts/{alert_id}/silence", id, { duration_s: 3600 });
      else if (what === "unsilence") await post("/api/alerts/{alert_id}/unsilence", id, undefined);
      else await post("/api/alerts/{alert_id}/acknowledge", id, undefined);
      setNote(null);
      await load();
    } catch (e) {
      setNote({ id: a.id ?? "", tone: "error", text: errorText(e) });
    }
  };
  void clock.value;
  const row = (a: Alert) => (
    <li key={a.id} class={`alert phase-${a.phase}`} data-alert={a.id}>
      <div class="alert-head">
        <Severity severity={a.severity} />
        <strong title={a.message ?? undefined}>{alertText(a)}</strong>
      </div>
      <div class="alert-meta">
        {a.phase === "pending"
          ? t("alerts.waiting", { ago: relative(a.started_at, clock.value) })
          : a.phase === "resolved"
            ? `${tv("phase", a.phase)} ${relative(a.resolved_at ?? null, clock.value)}`
            : t("alerts.since", { ago: relative(a.started_at, clock.value) })}
        {a.device_id && (
          <>
            {" · "}
            <Link href={`/devices/${a.device_id}`}>{devices.value.get(a.device_id)?.name ?? a.device_id}</Link>
            {devices.value.get(a.device_id)?.kind === "sensor" && (
              <>
                {" · "}
                <Link href={`/devices/${a.device_id}#charts`}>{t("alerts.chart")}</Link>
              </>
            )}
          </>
        )}
        {a.acknowledged_by && <span class="muted"> · {t("alerts.acknowledged", { user: a.acknowledged_by })}</span>}
        {a.silenced_until && (
          <span class="muted">
            {" · "}
            {t("alerts.silenced", { user: a.silenced_by ?? "?", until: relative(a.silenced_until, clock.value) })}
          </span>
        )}
      </div>
      {canAct.value && a.phase !== "resolved" && (
        <div class="actions">
          {!a.acknowledged_by && (
            <button type="button" onClick={() => void act(a, "acknowledge")}>
              {t("alerts.acknowledge")}
            </button>
          )}
          {a.silenced_until ? (
            <button type="button" onClick={() => void act(a, "unsilence")}>
              {t("alerts.unsilence")}
            </button>
          ) : (
            <button type="button" onClick={() => void act(a, "silence")}>
              {t("alerts.silence")}
            </button>
          )}
        </div>
      )}
      {note && note.id === a.id && <Notice tone={note.tone} text={note.text} onClose={() => setNote(null)} />}
    </li>
  );
  const none = !lists.firing.length && !lists.pending.length && !lists.resolved.length;
  return (
    <div class="view alerts">
      <h1>{t("alerts.title")}</h1>
      {none && <p class="empty">{t("alerts.none")}</p>}
      {(["firing", "pending", "resolved"] as const).map(
        (k) =>
          lists[k].length > 0 && (
            <section key={k} class="panel" aria-labelledby={`alerts-${k}`}>
              <h2 id={`alerts-${k}`}>
                {t(`alerts.${k}`)} ({lists[k].length})
              </h2>
              <ul class="alert-list">{lists[k].map(row)}</ul>
            </section>
          ),
      )}
    </div>
  );
}
