import type { Ref } from "preact";

import { t } from "../i18n";

/** Where a second factor's code is typed (sign-in, step-up): the app's 6 digits or a
 * recovery code; the phone's keyboard shows digits and may fill it in. */
export function CodeInput(props: { id: string; inputRef?: Ref<HTMLInputElement> }) {
  return (
    <>
      <label for={props.id}>{t("login.code")}</label>
      <input
        id={props.id}
        name="code"
        ref={props.inputRef}
        autoComplete="one-time-code"
        inputMode="numeric"
        required
        maxLength={20}
        placeholder="123456"
      />
      <small class="muted">{t("login.code_or_recovery")}</small>
    </>
  );
}
