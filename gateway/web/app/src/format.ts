// Numbers as people read them: units from the reading's name, sensible precision,
// relative times ("12 s ago"), sizes in KiB and MiB.
import { locale, t } from "./i18n";

interface Unit {
  unit: string;
  digits: number;
}

// By the reading name's suffix (the gateway names readings unit-last: temperature_c).
const UNITS: [RegExp, Unit][] = [
  [/_c$/, { unit: "°C", digits: 1 }],
  [/_pct$/, { unit: "%", digits: 0 }],
  [/_hpa$/, { unit: "hPa", digits: 0 }],
  [/_mv$/, { unit: "mV", digits: 0 }],
  [/_v$/, { unit: "V", digits: 2 }],
  [/_g$/, { unit: "g", digits: 2 }],
  [/_dbm$/, { unit: "dBm", digits: 0 }],
  [/_lux$/, { unit: "lx", digits: 0 }],
  [/_ppm$/, { unit: "ppm", digits: 0 }],
  [/_w$/, { unit: "W", digits: 0 }],
  [/_kwh$/, { unit: "kWh", digits: 1 }],
  [/_s$/, { unit: "s", digits: 0 }],
];

export function unitOf(name: string): Unit {
  for (const [re, u] of UNITS) if (re.test(name)) return u;
  return { unit: "", digits: 0 };
}

export function number(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value.toLocaleString(locale.value, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A reading with its unit: ``temperature_c`` 3.456 -> "3.5 °C". */
export function reading(name: string, value: number): string {
  const u = unitOf(name);
  const digits = u.unit === "" && !Number.isInteger(value) ? 2 : u.digits;
  const text = number(value, digits);
  return u.unit ? `${text} ${u.unit}` : text;
}

export function readingName(name: string): string {
  const key = `reading.${name}`;
  const text = t(key);
  return text === key ? name.replace(/_/g, " ") : text;
}

/** Readings in the order people look for them: temperature first, then humidity. */
export function orderedReadings(names: string[]): string[] {
  const rank = (n: string) =>
    n.startsWith("temperature") ? 0 : n.startsWith("humidity") ? 1 : n.startsWith("pressure") ? 2 : 3;
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${number(n / 1024, 1)} KiB`;
  return `${number(n / 1024 / 1024, 1)} MiB`;
}

/** "12 s ago", "3 min ago", "in 5 min" (``now`` in ms, for tests and a ticking clock). */
export function relative(ts: string | null | undefined, now = Date.now()): string {
  if (!ts) return "–";
  const diff = (now - Date.parse(ts)) / 1000;
  const past = diff >= 0;
  const s = Math.abs(diff);
  if (s < 5) return t("just_now");
  const [n, unit] =
    s < 60 ? [Math.round(s), "s"] : s < 3600 ? [Math.round(s / 60), "m"] : s < 86400 ? [Math.round(s / 3600), "h"] : [Math.round(s / 86400), "d"];
  return t(past ? `ago.${unit}` : `in.${unit === "d" ? "h" : unit}`, { n: unit === "d" && !past ? n * 24 : n });
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${number(seconds / 3600, 1)} h`;
  return `${number(seconds / 86400, 1)} d`;
}

export function dateTime(ts: string | null | undefined): string {
  if (!ts) return "–";
  return new Date(ts).toLocaleString(locale.value, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

export function time(ts: string | number): string {
  return new Date(ts).toLocaleTimeString(locale.value, { hour: "2-digit", minute: "2-digit" });
}

export function money(price: string | null | undefined, currency?: string | null): string {
  if (price === null || price === undefined) return "–";
  return currency ? `${price} ${currency}` : price;
}
