// One's own account: the second factor (set up with a QR code drawn on the gateway,
// confirmed with a first code, ten recovery codes shown once) and the password. A user
// whose role needs a second factor and has none lands here and nowhere else until it
// is set up.
import { useState } from "preact/hooks";

import { get, post } from "../api";
import { Notice, errorText } from "../components/Notice";
import { t } from "../i18n";
import { renewed, session } from "../state";

interface Enrolment {
  secret: string;
  uri: string;
  qr_svg: string;
}

function groups(secret: string): string {
  return secret.replace(/(.{4})/g, "$1 ").trim();
}

function SecondFactor() {
  const s = session.value;
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!s) return null;
  if (codes) {
    return (
      <section class="panel recovery" aria-labelledby="recovery-title">
        <h2 id="recovery-title">{t("account.recovery.title")}</h2>
        <p>{t("account.recovery.hint")}</p>
        <ol class="recovery-codes" id="recovery-codes">
          {codes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ol>
        <div class="actions">
          <button
            type="button"
            class="primary"
            onClick={async () => {
              // The session says the second factor is on only now: a user who had to set
              // one up sees the page open once the codes are put away.
              renewed(await get("/api/session"));
              setCodes(null);
            }}
          >
            {t("account.recovery.saved")}
          </button>
        </div>
      </section>
    );
  }
  return (
    <section class="panel" aria-labelledby="second-factor-title">
      <h2 id="second-factor-title">{t("account.second_factor")}</h2>
      {s.enrol_required && (
        <p class="notice notice-info" role="status">
          {t("account.required", { role: t(`role.${s.role}`) })}
        </p>
      )}
      <p>
        {s.second_factor
          ? t("account.second_factor.on", { n: s.recovery_left ?? 0 })
          : t("account.second_factor.off")}
      </p>
      {!enrolment ? (
        <div class="actions">
          <button
            type="button"
            class="primary"
            id="second-factor-start"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              setError(null);
              try {
                setEnrolment(await post("/api/me/second-factor", {}, undefined));
              } catch (e) {
                setError(errorText(e));
              } finally {
                setBusy(false);
              }
            }}
          >
            {t(s.second_factor ? "account.second_factor.replace" : "account.second_factor.start")}
          </button>
        </div>
      ) : (
        <form
          class="enrol"
          id="second-factor-confirm"
          onSubmit={async (ev) => {
            ev.preventDefault();
            const code = String(new FormData(ev.currentTarget).get("code") ?? "");
            setBusy(true);
            setError(null);
            try {
              const done = await post("/api/me/second-factor/confirm", {}, { code });
              setCodes(done.recovery_codes);
              setEnrolment(null);
            } catch (e) {
              setError(errorText(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          <ol class="steps">
            <li>{t("account.enrol.scan")}</li>
            <li>{t("account.enrol.type")}</li>
          </ol>
          {/* The QR code is drawn on the gateway (the secret goes nowhere else). */}
          <div class="qr" role="img" aria-label={t("account.enrol.qr")} dangerouslySetInnerHTML={{ __html: enrolment.qr_svg }} />
          <p class="muted">
            {t("account.enrol.manual")} <code class="secret" data-secret={enrolment.secret}>{groups(enrolment.secret)}</code>
          </p>
          <label for="enrol-code">{t("login.code")}</label>
          <input id="enrol-code" name="code" autoComplete="one-time-code" inputMode="numeric" required maxLength={6} placeholder="123456" />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {t("account.enrol.confirm")}
            </button>
            <button type="button" onClick={() => setEnrolment(null)}>
              {t("cancel")}
            </button>
          </div>
        </form>
      )}
      <Notice tone="error" text={error} />
    </section>
  );
}

function Password() {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="panel" aria-labelledby="password-title">
      <h2 id="password-title">{t("account.password")}</h2>
      <form
        class="narrow-form"
        id="password-form"
        onSubmit={async (ev) => {
          ev.preventDefault();
          const form = ev.currentTarget;
          const data = new FormData(form);
          const next = String(data.get("new") ?? "");
          setError(null);
          setDone(null);
          if (next !== String(data.get("again") ?? "")) {
            setError(t("account.password.differ"));
            return;
          }
          setBusy(true);
          try {
            renewed(await post("/api/me/password", {}, { current: String(data.get("current") ?? ""), new: next }));
            form.reset();
            setDone(t("account.password.done"));
          } catch (e) {
            setError(errorText(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="pw-current">{t("account.password.current")}</label>
        <input id="pw-current" name="current" type="password" autoComplete="current-password" required />
        <label for="pw-new">{t("account.password.new")}</label>
        <input id="pw-new" name="new" type="password" autoComplete="new-password" minLength={10} required />
        <label for="pw-again">{t("account.password.again")}</label>
        <input id="pw-again" name="again" type="password" autoComplete="new-password" minLength={10} required />
        <small class="muted">{t("account.password.rules")}</small>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {t("account.password.change")}
          </button>
        </div>
        <Notice tone="error" text={error} />
        <Notice tone="ok" text={done} onClose={() => setDone(null)} />
      </form>
    </section>
  );
}

export function Account() {
  const s = session.value;
  return (
    <div class="view account">
      <h1>{t("account.title")}</h1>
      {s && (
        <p class="lead">
          {t("account.who", { user: s.user, role: t(`role.${s.role}`) })}
        </p>
      )}
      <SecondFactor />
      {s && !s.enrol_required && <Password />}
    </div>
  );
}
