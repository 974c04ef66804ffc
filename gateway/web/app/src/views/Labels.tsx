// Shelf labels, by label or by product: what each shows and should show (previews at
// the panel's own pixels, larger on demand), its status and why; the actions each label
// can really take (written again when it has content, flashed only with an LED).
import { useEffect, useState } from "preact/hooks";

import { type Schemas, get, image, post } from "../api";
import { StateWord } from "../components/Badge";
import { Link } from "../components/Link";
import { Notice, errorText } from "../components/Notice";
import { Preview } from "../components/Preview";
import { Pager } from "../components/Table";
import { relative } from "../format";
import { t, tv } from "../i18n";
import { navigate, route, withQuery } from "../router";
import { canAct, clock } from "../state";

type Label = Schemas["Label"];
const PAGE = 20;
const TONE: Record<string, string> = {
  "in-sync": "up",
  pending: "pending",
  updating: "pending",
  failed: "down",
  held: "held",
  unbound: "muted",
};

export function previewOf(
  l: Pick<Label, "label_id" | "label">,
  which: "desired" | "displayed",
): string | null {
  const ref = l.label?.[which];
  return ref ? image(`/api/labels/${l.label_id}/${which}.png`, { h: ref.content_hash }) : null;
}

function LabelCard(props: { l: Label; onDone: () => void }) {
  const { l } = props;
  const [note, setNote] = useState<{ tone: "error" | "ok"; text: string } | null>(null);
  const state = l.label?.status ?? "unbound";
  const act = async (what: "repush" | "flash") => {
    try {
      if (what === "repush") await post("/api/labels/{label_id}/repush", { label_id: l.label_id }, undefined);
      else await post("/api/labels/{label_id}/flash", { label_id: l.label_id }, undefined);
      setNote({ tone: "ok", text: t(what === "repush" ? "labels.repush.done" : "labels.flash.done") });
      props.onDone();
    } catch (e) {
      setNote({ tone: "error", text: errorText(e) });
    }
  };
  const desired = l.label?.desired;
  const displayed = l.label?.displayed;
  return (
    <li class="label-card" data-label={l.label_id}>
      <div class="label-head">
        <Link href={`/shelf/${l.label_id}`} class="mono">
          {l.label_id}
        </Link>
        <span class="muted">{l.model}</span>
        {l.label?.sku && (
          <Link href={`/shelf/${encodeURIComponent(l.label.sku)}`} class="sku">
            {t("labels.sku")} {l.label.sku}
          </Link>
        )}
        <StateWord state={TONE[state] ?? "muted"} text={tv("label.status", state)} />
        <span class="muted">
          {l.online ? t("state.online") : t("state.offline")} · {relative(l.last_seen ?? null, clock.value)}
        </span>
      </div>
      {l.label?.last_error && <p class="why">{l.label.last_error}</p>}
      {(desired || displayed) && (
      <div class="previews">
        <Preview
          src={previewOf(l, "displayed")}
          alt={displayed ? `${displayed.sku} v${displayed.version}` : l.label_id}
          width={l.width}
          caption={displayed ? t("labels.preview.shows", { version: displayed.version }) : t("labels.shows")}
        />
        {desired && (!displayed || desired.content_hash !== displayed.content_hash) && (
          <Preview
            src={previewOf(l, "desired")}
            alt={`${desired.sku} v${desired.version}`}
            width={l.width}
            caption={t("labels.preview.should", { version: desired.version })}
          />
        )}
      </div>
      )}
      {canAct.value && (l.can_repush || l.can_flash) && (
        <div class="actions">
          {l.can_repush && (
            <button type="button" data-repush={l.label_id} onClick={() => void act("repush")}>
              {t("labels.repush")}
            </button>
          )}
          {l.can_flash && (
            <button type="button" onClick={() => void act("flash")}>
              {t("labels.flash")}
            </button>
          )}
        </div>
      )}
      {note && <Notice tone={note.tone} text={note.text} onClose={() => setNote(null)} />}
    </li>
  );
}

function BySku(props: { labels: Label[] }) {
  const groups = new Map<string, Label[]>();
  for (const l of props.labels) {
    const sku = l.label?.sku;
    if (sku) groups.set(sku, [...(groups.get(sku) ?? []), l]);
  }
  const skus = [...groups.keys()].sort();
  return (
    <table class="table cards-on-phone" id="sku-table">
      <thead>
        <tr>
          <th scope="col">{t("labels.sku")}</th>
          <th scope="col">{t("labels.count", { n: "" }).trim()}</th>
          <th scope="col">{t("labels.status")}</th>
        </tr>
      </thead>
      <tbody>
        {skus.map((sku) => {
          const ls = groups.get(sku) ?? [];
          const counts = new Map<string, number>();
          for (const l of ls) counts.set(l.label?.status ?? "unbound", (counts.get(l.label?.status ?? "unbound") ?? 0) + 1);
          return (
            <tr key={sku}>
              <td data-label={t("labels.sku")}>
                <Link href={`/shelf/${encodeURIComponent(sku)}`}>{sku}</Link>
              </td>
              <td data-label={t("labels.count", { n: "" }).trim()}>{ls.length}</td>
              <td data-label={t("labels.status")}>
                {[...counts.entries()].map(([s, n]) => (
                  <StateWord key={s} state={TONE[s] ?? "muted"} text={`${tv("label.status", s)} ${n}`} />
                ))}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function Labels() {
  const q = route.value.query;
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    get("/api/labels")
      .then((body) => setLabels(body.labels))
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    void load();
    const every = setInterval(() => void load(), 5000);
    return () => clearInterval(every);
  }, []);
  const by = q.get("by") === "sku" ? "sku" : "label";
  const status = q.get("status") ?? "";
  const rows = (labels ?? []).filter((l) => !status || (l.label?.status ?? "unbound") === status);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const page = Math.min(pages, Math.max(1, Number(q.get("page") ?? "1") || 1));
  return (
    <div class="view labels">
      <h1>{t("labels.title")}</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(ev) => {
          ev.preventDefault();
          const value = String(new FormData(ev.currentTarget).get("q") ?? "").trim();
          if (value) navigate(`/shelf/${encodeURIComponent(value)}`);
        }}
      >
        <label>
          {t("labels.search")}
          <input type="search" name="q" id="shelf-q" />
        </label>
        <button type="submit">{t("labels.search.go")}</button>
        <div class="segmented" role="group" aria-label={t("labels.title")}>
          <button type="button" aria-pressed={by === "label"} onClick={() => navigate(withQuery({ by: null, page: null }), true)}>
            {t("labels.by_label")}
          </button>
          <button type="button" aria-pressed={by === "sku"} onClick={() => navigate(withQuery({ by: "sku", page: null }), true)}>
            {t("labels.by_sku")}
          </button>
        </div>
        <label>
          {t("labels.status")}
          <select value={status} onChange={(ev) => navigate(withQuery({ status: ev.currentTarget.value, page: null }), true)}>
            <option value="">{t("all")}</option>
            {["in-sync", "pending", "updating", "failed", "held", "unbound"].map((s) => (
              <option key={s} value={s}>
                {tv("label.status", s)}
              </option>
            ))}
          </select>
        </label>
      </form>
      <Notice tone="error" text={error} />
      {labels === null ? (
        <p class="loading">{t("loading")}</p>
      ) : rows.length === 0 ? (
        <p class="empty">{t("labels.empty")}</p>
      ) : by === "sku" ? (
        <BySku labels={rows} />
      ) : (
        <>
          <ul class="label-list" id="label-list">
            {rows.slice((page - 1) * PAGE, page * PAGE).map((l) => (
              <LabelCard key={l.label_id} l={l} onDone={() => void load()} />
            ))}
          </ul>
          <Pager page={page} pages={pages} onPage={(p) => navigate(withQuery({ page: p }), true)} />
        </>
      )}
    </div>
  );
}
