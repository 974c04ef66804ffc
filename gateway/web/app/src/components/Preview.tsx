import { useRef } from "preact/hooks";

import { t } from "../i18n";

/** A label's picture at its panel's own pixels (never smaller), and larger on demand. */
export function Preview(props: { src: string | null; alt: string; width?: number | null; caption: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  if (!props.src) {
    return (
      <figure class="preview none">
        <div class="preview-empty">{t("labels.preview.none")}</div>
        <figcaption>{props.caption}</figcaption>
      </figure>
    );
  }
  const width = props.width ?? undefined;
  return (
    <figure class="preview">
      <button type="button" class="preview-button" onClick={() => dialog.current?.showModal()} aria-label={`${t("labels.enlarge")}: ${props.alt}`}>
        <img src={props.src} alt={props.alt} width={width} style={width ? { minWidth: `${width}px` } : undefined} />
      </button>
      <figcaption>{props.caption}</figcaption>
      <dialog ref={dialog} class="preview-dialog" aria-label={props.alt} onClick={(ev) => ev.target === dialog.current && dialog.current?.close()}>
        <img src={props.src} alt={props.alt} width={width ? width * 3 : undefined} />
        <form method="dialog">
          <button type="submit">{t("close")}</button>
        </form>
      </dialog>
    </figure>
  );
}
