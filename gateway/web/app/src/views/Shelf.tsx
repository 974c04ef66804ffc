// The shelf of one SKU (or of a label's SKU): every label, what it shows and should
// show, and why they differ, with the previews large enough to read the price.
import { useEffect, useState } from "preact/hooks";

import { type ShelfSearch, get, post } from "../api";
import { StateWord } from "../components/Badge";
import { Icon } from "../components/Icon";
import { Link } from "../components/Link";
import { Notice, errorText } from "../components/Notice";
import { Preview } from "../components/Preview";
import { money } from "../format";
import { t } from "../i18n";
import { canAct, clock } from "../state";
import { previewOf } from "./Labels";

const TONE: Record<string, string> = { current: "up", pending: "pending", failed: "down", unbound: "muted" };

/** Every label of the SKU written again (a sensitive action: the second factor may be
 * asked for). */
function RewriteAll(props: { sku: string; n: number }) {
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!canAct.value || props.n === 0) return null;
  return (
    <div class="rewrite">
      <button
        type="button"
        id="rewrite-sku"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            const r = await post("/api/shelf/rewrite", {}, { sku: props.sku });
            setDone(t("shelf.rewrite.done", { n: r.labels.length }));
          } catch (e) {
            setError(errorText(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        {t("shelf.rewrite", { n: props.n })}
      </button>
      <Notice tone="ok" text={done} onClose={() => setDone(null)} />
      <Notice tone="error" text={error} />
    </div>
  );
}

export function ShelfView(props: { query: string }) {
  const [shelf, setShelf] = useState<ShelfSearch | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setShelf(null);
    setError(null);
    let current = true; // the answer for an earlier search is dropped
    const load = () =>
      get("/api/shelf", {}, { q: props.query })
        .then((v) => current && setShelf(v))
        .catch((e) => current && setError(errorText(e)));
    void load();
    const every = setInterval(() => void load(), 4000);
    return () => {
      current = false;
      clearInterval(every);
    };
  }, [props.query]);
  void clock.value;
  return (
    <div class="view shelf">
      <p>
        <Link href="/labels">← {t("labels.title")}</Link>
      </p>
      {error && <p class="empty" role="alert">{error}</p>}
      {!shelf && !error && <p class="loading">{t("loading")}</p>}
      {shelf && (
        <>
          <h1>{t("shelf.title", { sku: shelf.sku })}</h1>
          <p class="lead">
            {shelf.current
              ? t("shelf.current", { price: money(shelf.current.price, shelf.current.currency), version: shelf.current.version })
              : t("shelf.no_current")}
          </p>
          {shelf.held && (
            <p class="held-note">
              <Icon name="warning" /> {t("shelf.held", { version: shelf.held.version, price: money(shelf.held.price, shelf.held.currency), why: shelf.held.error ?? "" })}{" "}
              <Link href="/prices">{t("nav.prices")}</Link>
            </p>
          )}
          <RewriteAll sku={shelf.sku} n={shelf.labels.length} />
          <ul class="label-list">
            {shelf.labels.map((row) => {
              const label = row.label ?? null;
              const l = { label_id: row.label_id, label };
              return (
                <li key={row.label_id} class="label-card" data-label={row.label_id}>
                  <div class="label-head">
                    <Link href={`/devices/${row.label_id}`} class="mono">
                      {row.label_id}
                    </Link>
                    <span class="muted">{row.model}</span>
                    <StateWord state={TONE[row.state] ?? "muted"} text={t(`shelf.state.${row.state}`)} />
                  </div>
                  <p>
                    {t("labels.shows")}: {row.shows === null ? "–" : `v${row.shows}`} · {t("labels.should")}:{" "}
                    {row.should_show === null ? "–" : `v${row.should_show}`}
                    {row.reason_code && (
                      <span class="why">
                        {" · "}
                        {row.reason_code === "failed" ? row.reason : t(`shelf.reason.${row.reason_code}`)}
                      </span>
                    )}
                  </p>
                  <div class="previews">
                    <Preview
                      src={label?.displayed ? previewOf(l, "displayed") : null}
                      alt={`${row.label_id} v${row.shows ?? ""}`}
                      width={row.width}
                      caption={label?.displayed ? t("labels.preview.shows", { version: label.displayed.version }) : t("labels.shows")}
                    />
                    {label?.desired && label.desired.content_hash !== label.displayed?.content_hash && (
                      <Preview
                        src={previewOf(l, "desired")}
                        alt={`${row.label_id} v${label.desired.version}`}
                        width={row.width}
                        caption={t("labels.preview.should", { version: label.desired.version })}
                      />
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </div>
  );
}
