import type { AnchorHTMLAttributes, ComponentChildren } from "preact";

import { navigate } from "../router";

/** A link inside the page: the router changes the view, the address bar follows. */
export function Link(
  props: { href: string; children: ComponentChildren } & AnchorHTMLAttributes<HTMLAnchorElement>,
) {
  const { href, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      onClick={(ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
