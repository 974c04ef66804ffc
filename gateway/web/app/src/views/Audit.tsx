// What people did on the gateway (admins): sign-ins and failed ones, overrides, labels
// flashed or written again, alerts acknowledged, price decisions, user changes; done or
// refused, newest first, filtered by user, action and time. The filters live in the
// address, so a view of the audit can be shared.
import { useEffect, useState } from "preact/hooks";

import { type AuditEntry, get } from "../api";
import { StateWord } from "../components/Badge";
import { errorText } from "../components/Notice";
import { Head } from "../components/Table";
import { t, tv } from "../i18n";
import { navigate, route, withQuery } from "../router";

const ACTIONS = [
  "login",
  "login-failed",
  "login-locked",
  "step-up",
  "second-factor.",
  "password.",
  "zone.",
  "label.",
  "alert.",
  "price.",
  "user.",
  "session.",
];

function epoch(local: string | null): number | null {
  if (!local) return null;
  const ms = Date.parse(local);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

function localTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function Audit() {
  const q = route.value.query;
  const filters = {
    actor: q.get("actor") ?? "",
    action: q.get("action") ?? "",
    since: q.get("since") ?? "",
    until: q.get("until") ?? "",
  };
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify(filters);
  useEffect(() => {
    const query: Record<string, string | number> = { limit: 500 };
    if (filters.actor) query.actor = filters.actor;
    if (filters.action) query.action = filters.action;
    const since = epoch(filters.since);
    const until = epoch(filters.until);
    if (since !== null) query.since = since;
    if (until !== null) query.until = until;
    setError(null);
    let current = true; // an answer to an older filter that comes late is dropped
    get("/api/audit", {}, query)
      .then((v) => current && setEntries(v.entries))
      .catch((e) => current && setError(errorText(e)));
    return () => {
      current = false;
    };
  }, [key]);
  return (
    <div class="view audit">
      <h1>{t("audit.title")}</h1>
      {/* The fields are the person's until they search (uncontrolled: a live update's
          render never resets a choice not yet searched); a new address remounts them. */}
      <form
        key={key}
        class="filters panel"
        id="audit-filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const data = new FormData(ev.currentTarget);
          navigate(
            withQuery({
              actor: String(data.get("actor") ?? ""),
              action: String(data.get("action") ?? ""),
              since: String(data.get("since") ?? ""),
              until: String(data.get("until") ?? ""),
            }),
            true,
          );
        }}
      >
        <label>
          {t("audit.who")}
          <input name="actor" defaultValue={filters.actor} autoComplete="off" />
        </label>
        <label>
          {t("audit.action")}
          <select name="action">
            <option value="" selected={!filters.action}>
              {t("all")}
            </option>
            {ACTIONS.map((a) => (
              <option key={a} value={a} selected={a === filters.action}>
                {tv("action", a)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("audit.since")}
          <input name="since" type="datetime-local" defaultValue={filters.since} />
        </label>
        <label>
          {t("audit.until")}
          <input name="until" type="datetime-local" defaultValue={filters.until} />
        </label>
        <button type="submit" class="primary">
          {t("search")}
        </button>
      </form>
      {error && (
        <p class="notice notice-error" role="alert">
          {error}
        </p>
      )}
      {entries === null ? (
        !error && <p class="loading">{t("loading")}</p>
      ) : entries.length === 0 ? (
        <p class="empty">{t("audit.none")}</p>
      ) : (
        <section class="panel">
          <p class="muted">{t("audit.shown", { n: entries.length })}</p>
          <div class="table-wrap">
            <table class="table cards-on-phone" id="audit-table">
              <Head
                columns={[
                  t("audit.when"),
                  t("audit.who"),
                  t("audit.action"),
                  t("audit.target"),
                  t("audit.result"),
                  t("audit.from"),
                  t("audit.detail"),
                ]}
              />
              <tbody>
                {entries.map((e, i) => (
                  <tr key={`${e.at}-${i}`} data-action={e.action} class={e.ok ? undefined : "refused"}>
                    <td class="nowrap" data-label={t("audit.when")}>{localTime(e.at)}</td>
                    <td data-label={t("audit.who")}>
                      {e.actor ?? "–"}
                      {e.role && <span class="muted"> · {t(`role.${e.role}`)}</span>}
                    </td>
                    <td data-label={t("audit.action")}>
                      {tv("action", e.action)}
                      {e.second_factor && (
                        <span class="badge tag" title={t("audit.with_factor")}>
                          {t("audit.factor")}
                        </span>
                      )}
                    </td>
                    <td data-label={t("audit.target")}>{e.target ?? "–"}</td>
                    <td data-label={t("audit.result")}>
                      <StateWord state={e.ok ? "up" : "down"} text={t(e.ok ? "audit.done" : "audit.refused")} />
                    </td>
                    <td data-label={t("audit.from")}>
                      <code>{e.from ?? "–"}</code> <span class="muted">{tv("via", e.via)}</span>
                    </td>
                    <td class="detail" data-label={t("audit.detail")}>{e.detail ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}
