// Small icons drawn inline (no icon font, no emoji: the box's fonts may have neither).
const PATHS: Record<string, string> = {
  critical: "M7.9 2h8.2L22 7.9v8.2L16.1 22H7.9L2 16.1V7.9z M12 7v6 M12 16.5v.5",
  warning: "M12 3 2 21h20z M12 10v5 M12 18v.5",
  info: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 11v6 M12 7.5v.5",
  ok: "M4 12.5 9.5 18 20 6",
};

export function Icon(props: { name: keyof typeof PATHS | string; label?: string }) {
  const d = PATHS[props.name] ?? PATHS.info;
  return (
    <svg
      class={`icon icon-${props.name}`}
      viewBox="0 0 24 24"
      width="1em"
      height="1em"
      fill="none"
      stroke="currentColor"
      stroke-width="2.2"
      stroke-linecap="round"
      stroke-linejoin="round"
      role={props.label ? "img" : undefined}
      aria-label={props.label}
      aria-hidden={props.label ? undefined : "true"}
    >
      <path d={d} />
    </svg>
  );
}
