// Signing in: the password, then (for a user with a second factor) the code from the
// authenticator app or a recovery code. After too many failures the wait is shown and
// counted down; the button comes back when it is over.
import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError } from "../api";
import { CodeInput } from "../components/CodeInput";
import { Notice, errorText } from "../components/Notice";
import { duration } from "../format";
import { t } from "../i18n";
import { clock, login } from "../state";

export function Login() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [needCode, setNeedCode] = useState(false);
  const [until, setUntil] = useState<number | null>(null); // ms: signing in waits until then
  const code = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (needCode) code.current?.focus();
  }, [needCode]);
  void clock.value; // ticks: the wait counts down
  const left = until === null ? 0 : Math.ceil((until - Date.now()) / 1000);
  const waiting = left > 0;
  return (
    <section class="login panel" aria-labelledby="login-title">
      <h1 id="login-title">{t("login.title")}</h1>
      <p class="muted">{t(needCode ? "login.code_hint" : "login.hint")}</p>
      <form
        id="login-form"
        onSubmit={async (ev) => {
          ev.preventDefault();
          const form = new FormData(ev.currentTarget);
          setBusy(true);
          setError(null);
          try {
            await login(
              String(form.get("user")),
              String(form.get("password")),
              needCode ? String(form.get("code") ?? "") : undefined,
            );
          } catch (e) {
            if (e instanceof ApiError && e.code === "second-factor-required") {
              setNeedCode(true);
            } else if (e instanceof ApiError && e.code === "too-many-logins") {
              const wait = Number(e.args.wait_s ?? e.retryAfter ?? 30);
              setUntil(Date.now() + wait * 1000);
              setError(null);
            } else {
              setError(errorText(e));
            }
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="user">{t("login.user")}</label>
        <input id="user" name="user" autoComplete="username" required readOnly={needCode} />
        <label for="password">{t("login.password")}</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          readOnly={needCode}
        />
        {needCode && (
          <>
            <CodeInput id="code" inputRef={code} />
          </>
        )}
        <button type="submit" class="primary" disabled={busy || waiting}>
          {t(needCode ? "login.verify" : "login.submit")}
        </button>
        {needCode && (
          <button
            type="button"
            class="link"
            onClick={() => {
              setNeedCode(false);
              setError(null);
            }}
          >
            {t("login.other_user")}
          </button>
        )}
        {waiting && (
          <p class="notice notice-error wait" role="alert" data-wait={left}>
            {t("login.wait", { wait: duration(left) })}
          </p>
        )}
        <Notice tone="error" text={error} />
      </form>
    </section>
  );
}
