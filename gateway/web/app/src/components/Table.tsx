import type { ComponentChildren } from "preact";

import { t } from "../i18n";

export interface Sort {
  key: string;
  asc: boolean;
}

/** A column header that sorts: a button, with the direction shown and told. */
export function SortHeader(props: {
  label: string;
  name: string;
  sort: Sort;
  onSort: (s: Sort) => void;
}) {
  const active = props.sort.key === props.name;
  const dir = active ? (props.sort.asc ? "ascending" : "descending") : "none";
  return (
    <th scope="col" aria-sort={dir}>
      <button
        type="button"
        class="sort"
        onClick={() => props.onSort({ key: props.name, asc: active ? !props.sort.asc : true })}
      >
        {props.label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (props.sort.asc ? " ▲" : " ▼") : " ↕"}
        </span>
        {active && <span class="sr-only"> ({t(props.sort.asc ? "sorted.asc" : "sorted.desc")})</span>}
      </button>
    </th>
  );
}

/** Previous / next with where we are; nothing when there is one page. */
export function Pager(props: { page: number; pages: number; onPage: (p: number) => void }) {
  if (props.pages <= 1) return null;
  return (
    <nav class="pager" aria-label={t("page.of", { page: props.page, pages: props.pages })}>
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        ‹ <span class="sr-only">{t("page.prev")}</span>
      </button>
      <span>{t("page.of", { page: props.page, pages: props.pages })}</span>
      <button
        type="button"
        disabled={props.page >= props.pages}
        onClick={() => props.onPage(props.page + 1)}
      >
        › <span class="sr-only">{t("page.next")}</span>
      </button>
    </nav>
  );
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" id={props.id} aria-label={props.title}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/** A table's header row: the columns' names (an empty name: said to screen readers
 * only, for a column of buttons). */
export function Head(props: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((c, i) =>
          c ? (
            <th key={c} scope="col">
              {c}
            </th>
          ) : (
            <th key={`empty-${i}`} scope="col">
              <span class="sr-only">{t("col.actions")}</span>
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
