// The step-up: a sensitive action (a price released, a zone overridden, a user changed)
// needs the second factor confirmed within the last 5 minutes. The server says so; this
// asks for a code where the person is, and the action goes on once it is confirmed.
import { useEffect, useRef, useState } from "preact/hooks";

import { post } from "../api";
import { CodeInput } from "./CodeInput";
import { errorText } from "./Notice";
import { t, tv } from "../i18n";
import { renewed, stepUp } from "../state";

export function StepUpDialog() {
  const request = stepUp.value;
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (request && !dialog.current?.open) {
      setError(null);
      dialog.current?.showModal();
      input.current?.focus();
    }
    if (!request && dialog.current?.open) dialog.current.close();
  }, [request]);
  return (
    <dialog
      ref={dialog}
      class="step-up"
      aria-labelledby="step-up-title"
      onCancel={() => request?.done(false)}
    >
      <form
        id="step-up-form"
        onSubmit={async (ev) => {
          ev.preventDefault();
          if (!request) return;
          const code = String(new FormData(ev.currentTarget).get("code") ?? "");
          setBusy(true);
          try {
            renewed(await post("/api/me/step-up", {}, { code }));
            (ev.target as HTMLFormElement).reset();
            request.done(true);
          } catch (e) {
            setError(errorText(e));
            input.current?.select();
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="step-up-title">{t("stepup.title")}</h2>
        <p>{t("stepup.why", { action: tv("action", request?.action) })}</p>
        <CodeInput id="step-up-code" inputRef={input} />
        {error && (
          <p class="notice notice-error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {t("stepup.confirm")}
          </button>
          <button type="button" onClick={() => request?.done(false)}>
            {t("cancel")}
          </button>
        </div>
      </form>
    </dialog>
  );
}
