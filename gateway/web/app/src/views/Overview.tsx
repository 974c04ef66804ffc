// What needs attention first (firing alerts, offline devices, held prices, labels
// failing, the broker), then the figures, then health folded away.
import { Link } from "../components/Link";
import { StateWord } from "../components/Badge";
import { Icon } from "../components/Icon";
import { Section } from "../components/Table";
import { bytes, dateTime, duration, number, relative } from "../format";
import { t, tv } from "../i18n";
import { clock, status } from "../state";

export function Overview() {
  const s = status.value;
  if (!s) return <p class="loading">{t("loading")}</p>;
  const offline = s.devices.total - s.devices.online;
  const shelf = s.shelf ?? null;
  const attention: [string, string, string][] = []; // [href, text, tone]
  if (s.alerts.firing) attention.push(["/alerts", t("overview.firing", { n: s.alerts.firing }), "critical"]);
  if (s.broker && !s.broker.connected) attention.push(["/", t("overview.broker_down"), "critical"]);
  if (s.prices_held) attention.push(["/prices", t("overview.held", { n: s.prices_held }), "warning"]);
  if (shelf && shelf.failed) attention.push(["/labels?status=failed", t("overview.failing", { n: shelf.failed }), "warning"]);
  if (offline) attention.push(["/devices?state=offline", t("overview.offline", { n: offline }), "warning"]);
  if (s.web && s.web.tls === null) attention.push(["/", t("overview.plain_http"), "critical"]);
  const tls = s.web?.tls ?? null;
  const running = s.components.filter((c) => c.state === "running").length;
  const tts = shelf?.time_to_shelf_s;
  const uptime = (clock.value - Date.parse(s.started_at)) / 1000;
  return (
    <div class="view overview">
      <h1 class="sr-only">{t("nav.overview")}</h1>
      <section class="panel attention" aria-labelledby="attention-title">
        <h2 id="attention-title">{t("overview.attention")}</h2>
        {attention.length ? (
          <ul class="attention-list">
            {attention.map(([href, text, tone]) => (
              <li key={text} class={`tone-${tone}`}>
                <Icon name={tone} />{" "}
                <Link href={href}>{text}</Link>
                {href === "/" && s.broker?.last_error && <small class="why"> {s.broker.last_error}</small>}
              </li>
            ))}
          </ul>
        ) : (
          <p class="all-well">
            <Icon name="ok" /> {t("overview.all_well")}
          </p>
        )}
      </section>
      <div class="cards">
        <div class="card">
          <span>{t("card.devices")}</span>
          <strong>
            {s.devices.online} / {s.devices.total}
          </strong>
        </div>
        <div class="card">
          <span>{t("card.broker")}</span>
          <strong>
            {s.broker ? (
              <StateWord
                state={s.broker.connected ? "up" : "down"}
                text={t(s.broker.connected ? "broker.connected" : "broker.disconnected")}
              />
            ) : (
              t("broker.off")
            )}
          </strong>
          {s.broker && <small>{s.broker.host}:{s.broker.port}</small>}
        </div>
        <div class="card">
          <span>{t("card.buffer")}</span>
          <strong>
            {!s.buffer || s.buffer.pending === 0
              ? t("card.buffer.empty")
              : t("card.buffer.msgs", { n: s.buffer.pending, size: bytes(s.buffer.bytes) })}
          </strong>
        </div>
        <div class="card">
          <span>{t("card.shelf")}</span>
          <strong>
            {shelf && shelf.compliance !== null
              ? `${number(shelf.compliance * 100, 1)} %`
              : t("card.shelf.none")}
          </strong>
          {shelf && shelf.bound > 0 && (
            <small>
              {shelf.current} / {shelf.bound} · {t("label.status.pending")} {shelf.pending} ·{" "}
              {t("label.status.held")} {shelf.held}
            </small>
          )}
        </div>
        <div class="card">
          <span>{t("card.tts")}</span>
          <strong>{tts && tts.p50 !== null ? duration(tts.p50) : "–"}</strong>
          {tts && tts.p95 !== null && (
            <small>
              p95 {duration(tts.p95)} · max {duration(tts.max ?? 0)} · n={tts.count}
            </small>
          )}
        </div>
      </div>
      <Section title={t("overview.about")}>
        <dl class="facts">
          <dt>{t("about.store")}</dt>
          <dd>{s.store_id}</dd>
          <dt>{t("about.gateway")}</dt>
          <dd>{s.gateway_id}</dd>
          <dt>{t("about.version")}</dt>
          <dd>{s.version}</dd>
          <dt>{t("about.started")}</dt>
          <dd>
            {dateTime(s.started_at)} ({t("uptime", { time: duration(uptime) })})
          </dd>
          <dt>{t("about.clock")}</dt>
          <dd>{s.now ? dateTime(s.now) : "–"}</dd>
          <dt>{t("about.address")}</dt>
          <dd>{location.origin}</dd>
        </dl>
      </Section>
      {tls && (
        <Section title={t("cert.title")} id="certificate">
          <p class="muted">{t(tls.self_signed ? "cert.check_self_signed" : "cert.check")}</p>
          <dl class="facts">
            <dt>SHA-256</dt>
            <dd>
              <code class="fingerprint" id="fingerprint">{tls.fingerprint}</code>
            </dd>
            <dt>{t("cert.valid_until")}</dt>
            <dd>{dateTime(tls.not_after)}</dd>
            <dt>{t("cert.names")}</dt>
            <dd>{(tls.names ?? []).join(", ") || "–"}</dd>
            <dt>{t("cert.kind")}</dt>
            <dd>
              {t(tls.self_signed ? "cert.self_signed" : "cert.issued")}
              {s.web?.client_certificates ? ` · ${t("cert.mutual")}` : ""}
            </dd>
          </dl>
        </Section>
      )}
      <details class="panel health">
        <summary>
          <h2>{t("overview.health")}</h2>
          <span class="muted">{t("overview.components", { running, total: s.components.length })}</span>
        </summary>
        <h3>{t("overview.adapters")}</h3>
        <table class="table">
          <thead>
            <tr>
              <th scope="col">{t("col.name")}</th>
              <th scope="col">{t("col.state")}</th>
              <th scope="col">{t("col.mode")}</th>
              <th scope="col">{t("col.rate")}</th>
              <th scope="col">{t("col.error")}</th>
            </tr>
          </thead>
          <tbody>
            {s.adapters.map((a) => (
              <tr key={a.name}>
                <td>{a.name}</td>
                <td>
                  <StateWord state={a.state} text={tv("state", a.state)} />
                </td>
                <td>{a.mode ?? "–"}</td>
                <td>{number(a.adverts_per_s, 1)}</td>
                <td>{a.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {s.ownership && (
          <>
            <h3>{t("overview.gateways")}</h3>
            <table class="table" id="gateways">
              <thead>
                <tr>
                  <th scope="col">{t("col.gateway")}</th>
                  <th scope="col">{t("col.state")}</th>
                  <th scope="col">{t("col.owned")}</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(s.ownership.owned ?? {}).map(([gw, n]) => {
                  const off = (s.ownership?.offline ?? []).includes(gw);
                  return (
                    <tr key={gw} data-gateway={gw}>
                      <td>{gw === s.gateway_id ? `${gw} ★` : gw}</td>
                      <td>
                        <StateWord state={off ? "down" : "up"} text={t(off ? "state.offline" : "state.online")} />
                      </td>
                      <td>{n}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </>
        )}
        <h3>{t("overview.components", { running, total: s.components.length })}</h3>
        <table class="table">
          <thead>
            <tr>
              <th scope="col">{t("col.name")}</th>
              <th scope="col">{t("col.state")}</th>
              <th scope="col">{t("col.restarts")}</th>
              <th scope="col">{t("col.error")}</th>
            </tr>
          </thead>
          <tbody>
            {s.components.map((c) => (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>
                  <StateWord state={c.state} text={tv("state", c.state)} />
                </td>
                <td>{c.restarts}</td>
                <td>{c.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="muted">{relative(s.now ?? null, clock.value)}</p>
      </details>
    </div>
  );
}
