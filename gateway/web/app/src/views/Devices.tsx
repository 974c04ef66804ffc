// Every device: filtered by kind, state and tag (in the address, so a filtered list can
// be linked), sorted by any column, a page at a time; a phone shows them as cards.
import { Link } from "../components/Link";
import { StateWord } from "../components/Badge";
import { Pager, SortHeader, compare, type Sort } from "../components/Table";
import type { Device } from "../api";
import { number, orderedReadings, reading, readingName, relative } from "../format";
import { t, tv } from "../i18n";
import { navigate, route, withQuery } from "../router";
import { clock, devices, status } from "../state";

const PAGE = 25;
const KINDS = ["sensor", "label", "beacon", "unknown"];

export function summary(d: Device, most = 3): string {
  const names = orderedReadings(Object.keys(d.readings)).slice(0, most);
  return names.map((n) => `${readingName(n)} ${reading(n, d.readings[n])}`).join(" · ");
}

function sortValue(d: Device, key: string): unknown {
  switch (key) {
    case "name":
      return d.name ?? "";
    case "state":
      return d.online === null ? 2 : d.online ? 0 : 1;
    case "owner":
      return d.owner ?? null;
    default:
      return (d as unknown as Record<string, unknown>)[key];
  }
}

export function Devices() {
  const q = route.value.query;
  const kind = q.get("kind") ?? "";
  const state = q.get("state") ?? "";
  const tag = q.get("tag") ?? "";
  const text = (q.get("q") ?? "").toLowerCase();
  const sort: Sort = { key: q.get("sort") ?? "device_id", asc: q.get("dir") !== "desc" };
  const all = [...devices.value.values()];
  const tags = [...new Set(all.flatMap((d) => d.tags))].sort();
  const shared = Boolean(status.value?.ownership);
  const rows = all
    .filter((d) => !kind || d.kind === kind)
    .filter((d) => !state || (state === "online" ? d.online === true : d.online !== true))
    .filter((d) => !tag || d.tags.includes(tag))
    .filter(
      (d) =>
        !text ||
        [d.device_id, d.address, d.model, d.name ?? "", d.tags.join(" ")].join(" ").toLowerCase().includes(text),
    )
    .sort((a, b) => compare(sortValue(a, sort.key), sortValue(b, sort.key)) * (sort.asc ? 1 : -1));
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const page = Math.min(pages, Math.max(1, Number(q.get("page") ?? "1") || 1));
  const shown = rows.slice((page - 1) * PAGE, page * PAGE);
  const set = (changes: Record<string, string | number | null>) =>
    navigate(withQuery({ page: null, ...changes }), true);
  const onSort = (s: Sort) => set({ sort: s.key, dir: s.asc ? null : "desc" });
  void clock.value;
  return (
    <div class="view devices">
      <h1>{t("devices.title")}</h1>
      <form class="filters" role="search" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          {t("devices.filter")}
          <input
            type="search"
            id="filter"
            value={q.get("q") ?? ""}
            placeholder={t("devices.filter.placeholder")}
            onInput={(ev) => set({ q: ev.currentTarget.value })}
          />
        </label>
        <label>
          {t("devices.kind")}
          <select id="kind" value={kind} onChange={(ev) => set({ kind: ev.currentTarget.value })}>
            <option value="">{t("all")}</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kind.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("devices.state")}
          <select id="state" value={state} onChange={(ev) => set({ state: ev.currentTarget.value })}>
            <option value="">{t("all")}</option>
            <option value="online">{t("state.online")}</option>
            <option value="offline">{t("state.offline")}</option>
          </select>
        </label>
        {tags.length > 0 && (
          <label>
            {t("devices.tag")}
            <select id="tag" value={tag} onChange={(ev) => set({ tag: ev.currentTarget.value })}>
              <option value="">{t("all")}</option>
              {tags.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </label>
        )}
        <output class="muted">{t("shown.of", { shown: rows.length, total: all.length })}</output>
      </form>
      {rows.length === 0 ? (
        <p class="empty">{t("devices.empty")}</p>
      ) : (
        <table class="table device-table" id="device-table">
          <thead>
            <tr>
              <SortHeader label={t("col.device")} name="device_id" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.name")} name="name" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.kind")} name="kind" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.state")} name="state" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.last_seen")} name="last_seen" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.rssi")} name="rssi" sort={sort} onSort={onSort} />
              <SortHeader label={t("col.battery")} name="battery_pct" sort={sort} onSort={onSort} />
              <th scope="col">{t("col.readings")}</th>
              {shared && <SortHeader label={t("col.owner")} name="owner" sort={sort} onSort={onSort} />}
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => {
              const owner = d.owner;
              return (
                <tr key={d.device_id} data-device={d.device_id} class="device-row">
                  <td data-label={t("col.device")} class="c-id">
                    <Link href={`/devices/${d.device_id}`} class="mono">
                      {d.device_id}
                    </Link>
                    <small class="muted block">{d.model}</small>
                  </td>
                  <td data-label={t("col.name")} class="c-name" data-empty={d.name ? undefined : ""}>
                    {d.name ?? "–"}
                  </td>
                  <td data-label={t("col.kind")} class="c-kind">
                    {tv("kind", d.kind)}
                  </td>
                  <td data-label={t("col.state")} class="c-state">
                    <StateWord
                      state={d.online ? "up" : "down"}
                      text={d.online === null ? t("unknown") : t(d.online ? "state.online" : "state.offline")}
                    />
                  </td>
                  <td data-label={t("col.last_seen")} class="c-seen">
                    <time dateTime={d.last_seen} title={d.last_seen}>
                      {relative(d.last_seen, clock.value)}
                    </time>
                  </td>
                  <td data-label={t("col.rssi")} class="c-rssi" data-empty={d.rssi === null ? "" : undefined}>
                    {d.rssi === null ? "–" : `${d.rssi} dBm`}
                  </td>
                  <td
                    data-label={t("col.battery")}
                    class="c-batt"
                    data-empty={d.battery_pct === null ? "" : undefined}
                  >
                    {d.battery_pct === null ? "–" : `🔋 ${number(d.battery_pct)} %`}
                  </td>
                  <td
                    data-label={t("col.readings")}
                    class="readings c-read"
                    data-empty={Object.keys(d.readings).length ? undefined : ""}
                  >
                    {summary(d) || "–"}
                  </td>
                  {shared && (
                    <td data-label={t("col.owner")} class="c-owner">
                      {owner ?? "–"}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={page} pages={pages} onPage={(p) => navigate(withQuery({ page: p }), true)} />
    </div>
  );
}
