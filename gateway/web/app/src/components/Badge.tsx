import { t } from "../i18n";
import { Icon } from "./Icon";

/** A severity said three ways: an icon, a word and a colour (never colour alone). */
export function Severity(props: { severity: string }) {
  return (
    <span class={`badge sev-${props.severity}`}>
      <Icon name={props.severity} /> {t(`severity.${props.severity}`)}
    </span>
  );
}

/** A state word with its colour (online, offline, failed, ...). */
export function StateWord(props: { state: string; text: string }) {
  return <span class={`state state-${props.state}`}>{props.text}</span>;
}
