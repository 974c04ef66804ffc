import { useState } from "preact/hooks";

import { Notice, errorText } from "../components/Notice";
import { t } from "../i18n";
import { login } from "../state";

export function Login() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="login panel" aria-labelledby="login-title">
      <h1 id="login-title">{t("login.title")}</h1>
      <p class="muted">{t("login.hint")}</p>
      <form
        id="login-form"
        onSubmit={async (ev) => {
          ev.preventDefault();
          const form = new FormData(ev.currentTarget);
          setBusy(true);
          setError(null);
          try {
            await login(String(form.get("user")), String(form.get("password")));
          } catch (e) {
            setError(errorText(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="user">{t("login.user")}</label>
        <input id="user" name="user" autoComplete="username" required />
        <label for="password">{t("login.password")}</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <button type="submit" class="primary" disabled={busy}>
          {t("login.submit")}
        </button>
        <Notice tone="error" text={error} />
      </form>
    </section>
  );
}
