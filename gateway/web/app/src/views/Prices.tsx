// Prices to review: every price the guard held, with the rules it broke in words, the
// previous price, the lowest of the window, how many labels it would change, and the
// label as it would look beside what it shows now. An admin releases or discards it,
// with a note; the second factor is asked for when it was not confirmed in the last
// 5 minutes.
import { useEffect, useState } from "preact/hooks";

import { type HeldPrice, type Prices as PricesView, get, image, post } from "../api";
import { Icon } from "../components/Icon";
import { Link } from "../components/Link";
import { Notice, errorText } from "../components/Notice";
import { Preview } from "../components/Preview";
import { money, number, relative } from "../format";
import { t } from "../i18n";
import { clock, isAdmin } from "../state";

function Decide(props: { item: HeldPrice; onDone: (text: string) => void }) {
  const { item } = props;
  const [decision, setDecision] = useState<"release" | "discard" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!isAdmin.value) return <p class="muted">{t("prices.admin_only")}</p>;
  if (decision === null) {
    return (
      <div class="actions">
        <button type="button" class="primary" data-release={item.sku} onClick={() => setDecision("release")}>
          {t("prices.release")}
        </button>
        <button type="button" class="danger" data-discard={item.sku} onClick={() => setDecision("discard")}>
          {t("prices.discard")}
        </button>
      </div>
    );
  }
  const id = `${item.sku}-${item.version}`;
  return (
    <form
      class="decide"
      onSubmit={async (ev) => {
        ev.preventDefault();
        const form = new FormData(ev.currentTarget);
        const body = {
          sku: item.sku,
          version: item.version,
          note: String(form.get("note") ?? "") || undefined,
        };
        setBusy(true);
        try {
          if (decision === "release") await post("/api/prices/release", {}, body);
          else await post("/api/prices/discard", {}, body);
          props.onDone(t(decision === "release" ? "prices.released" : "prices.discarded", item));
        } catch (e) {
          setError(errorText(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      <p class="confirm-what">
        {t(decision === "release" ? "prices.confirm.release" : "prices.confirm.discard", {
          sku: item.sku,
          version: item.version,
          price: money(item.price, item.currency),
          n: item.labels,
        })}
      </p>
      <label for={`note-${id}`}>{t("prices.note")}</label>
      <input id={`note-${id}`} name="note" maxLength={200} />
      <div class="actions">
        <button type="submit" class={decision === "release" ? "primary" : "danger"} disabled={busy}>
          {t(decision === "release" ? "prices.release" : "prices.discard")}
        </button>
        <button type="button" onClick={() => setDecision(null)}>
          {t("cancel")}
        </button>
      </div>
      <Notice tone="error" text={error} />
    </form>
  );
}

function HeldCard(props: { item: HeldPrice; onDone: (text: string) => void }) {
  const { item } = props;
  const label = item.label_ids?.[0];
  const days = item.window_days ?? 30;
  return (
    <li class="held panel" data-sku={item.sku}>
      <div class="held-head">
        <h2>
          {item.name ?? item.sku} <span class="muted">· {item.sku} v{item.version}</span>
        </h2>
        <span class="muted">{t("prices.held_since", { ago: relative(item.held_at, clock.value) })}</span>
      </div>
      <ul class="rules">
        {item.rules.map((r) => (
          <li key={r.rule} class={`rule mode-${r.mode}`}>
            <span class={`badge ${r.mode === "hold" ? "sev-critical" : "sev-warning"}`}>
              <Icon name={r.mode === "hold" ? "critical" : "warning"} /> {t(`mode.${r.mode}`)}
            </span>{" "}
            <strong>{t(`rule.${r.rule}`)}</strong>
            <span class="rule-message">{r.message}</span>
          </li>
        ))}
      </ul>
      <dl class="facts figures">
        <dt>{t("prices.new")}</dt>
        <dd class="big">{money(item.price, item.currency)}</dd>
        <dt>{t("prices.previous")}</dt>
        <dd>{money(item.previous_price ?? null, item.currency)}</dd>
        {item.original_price && (
          <>
            <dt>{t("prices.was")}</dt>
            <dd>{money(item.original_price, item.currency)}</dd>
          </>
        )}
        <dt>{t("prices.lowest", { days: number(days) })}</dt>
        <dd>
          {money(item.lowest_prior_price ?? null, item.currency)}{" "}
          <span class="muted">({t("prices.known", { days: number(item.history_days ?? 0, 1) })})</span>
        </dd>
        <dt>{t("prices.labels")}</dt>
        <dd>
          {item.labels}
          {item.labels > 0 && (
            <>
              {" · "}
              <Link href={`/shelf/${encodeURIComponent(item.sku)}`}>{t("labels.search.go")}</Link>
            </>
          )}
        </dd>
      </dl>
      {label && (
        <div class="previews">
          <Preview src={image(`/api/labels/${label}/displayed.png`, { v: item.current_version ?? 0 })} alt={`${item.sku} ${t("prices.now")}`} caption={t("prices.now")} />
          <Preview
            src={image("/api/prices/preview.png", { sku: item.sku, version: item.version, label_id: label })}
            alt={`${item.sku} v${item.version} ${t("prices.would")}`}
            caption={t("prices.would")}
          />
        </div>
      )}
      <Decide item={item} onDone={props.onDone} />
    </li>
  );
}

export function Prices() {
  const [view, setView] = useState<PricesView | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    get("/api/prices")
      .then(setView)
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    void load();
    const every = setInterval(() => void load(), 5000);
    return () => clearInterval(every);
  }, []);
  return (
    <div class="view prices">
      <h1>{t("prices.title")}</h1>
      <Notice tone="ok" text={done} onClose={() => setDone(null)} />
      <Notice tone="error" text={error} />
      {view === null ? (
        <p class="loading">{t("loading")}</p>
      ) : view.held.length === 0 ? (
        <p class="empty all-well">
          <Icon name="ok" /> {t("prices.none")}
        </p>
      ) : (
        <ul class="held-list">
          {view.held.map((item) => (
            <HeldCard
              key={`${item.sku}-${item.version}`}
              item={item}
              onDone={(text) => {
                setDone(text);
                void load();
              }}
            />
          ))}
        </ul>
      )}
      {view && (
        <details class="panel">
          <summary>
            <h2>{t("prices.rules_in_force")}</h2>
            <span class="muted">
              {view.rules_version ? t("prices.rules_from", { version: view.rules_version }) : t("prices.rules_config")}
              {view.currency ? ` · ${view.currency}` : ""}
            </span>
          </summary>
          <table class="table">
            <tbody>
              {Object.entries(view.rules as Record<string, Record<string, number | string>>).map(([name, rule]) => (
                <tr key={name}>
                  <th scope="row">{t(`rule.${name}`)}</th>
                  <td>{t(`mode.${rule.mode}`)}</td>
                  <td>
                    {Object.entries(rule)
                      .filter(([k]) => k !== "mode")
                      .map(([k, v]) => `${k} ${v}`)
                      .join(", ")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
