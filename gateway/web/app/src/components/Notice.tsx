import { ApiError } from "../api";
import { t } from "../i18n";
import { duration } from "../format";
import { Icon } from "./Icon";

export type Tone = "error" | "ok" | "info";

/** An inline message beside what it is about (never a browser alert box). */
export function Notice(props: { tone: Tone; text: string | null; onClose?: () => void }) {
  if (!props.text) return null;
  return (
    <p class={`notice notice-${props.tone}`} role={props.tone === "error" ? "alert" : "status"}>
      <Icon name={props.tone === "error" ? "warning" : props.tone === "ok" ? "ok" : "info"} />{" "}
      {props.text}
      {props.onClose && (
        <button type="button" class="link" onClick={props.onClose} aria-label={t("close")}>
          ×
        </button>
      )}
    </p>
  );
}

/** What went wrong, in the page's language: by the server's code where it gives one. */
export function errorText(e: unknown): string {
  if (!(e instanceof ApiError)) return t("error.generic", { message: String(e) });
  const args = { ...e.args, message: e.message };
  if (e.retryAfter !== null) Object.assign(args, { wait: duration(e.retryAfter) });
  if (e.code) {
    const key = `error.${e.code}`;
    const text = t(key, args);
    if (text !== key) return text;
  }
  return t("error.generic", args);
}
