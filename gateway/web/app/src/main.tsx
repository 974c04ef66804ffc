// The technicians' page: one view per job, each at its own address.
import { render } from "preact";

import { lang, setLang, t } from "./i18n";
import { Link } from "./components/Link";
import { match, route } from "./router";
import { checked, enrolling, isAdmin, logout, restore, role, session, status } from "./state";
import { StepUpDialog } from "./components/StepUp";
import { Account } from "./views/Account";
import { Alerts } from "./views/Alerts";
import { Audit } from "./views/Audit";
import { DevicePage } from "./views/Device";
import { Devices } from "./views/Devices";
import { Energy } from "./views/Energy";
import { Labels } from "./views/Labels";
import { Login } from "./views/Login";
import { Overview } from "./views/Overview";
import { Prices } from "./views/Prices";
import { ShelfView } from "./views/Shelf";
import { Users } from "./views/Users";
import "./style.css";

const NAV: [string, string][] = [
  ["/", "nav.overview"],
  ["/devices", "nav.devices"],
  ["/labels", "nav.labels"],
  ["/prices", "nav.prices"],
  ["/alerts", "nav.alerts"],
  ["/energy", "nav.energy"],
];
const ADMIN_NAV: [string, string][] = [
  ["/users", "nav.users"],
  ["/audit", "nav.audit"],
];

function active(href: string, path: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
}

function View() {
  const path = route.value.path;
  if (enrolling.value) return <Account />; // nothing else until the second factor is set up
  let params: Record<string, string> | null;
  if ((params = match("/devices/:id", path))) return <DevicePage id={params.id} />;
  if ((params = match("/shelf/:query", path))) return <ShelfView query={params.query} />;
  if (path === "/devices") return <Devices />;
  if (path === "/labels") return <Labels />;
  if (path === "/prices") return <Prices />;
  if (path === "/alerts") return <Alerts />;
  if (path === "/energy") return <Energy />;
  if (path === "/account") return <Account />;
  if (path === "/users" && isAdmin.value) return <Users />;
  if (path === "/audit" && isAdmin.value) return <Audit />;
  return <Overview />;
}

function Header() {
  const s = status.value;
  const held = s?.prices_held ?? 0;
  const firing = s?.alerts?.firing ?? 0;
  const path = route.value.path;
  return (
    <header class="top">
      <div class="brand">
        <span class="logo" aria-hidden="true">▦</span>
        <span class="title">{t("app.title")}</span>
        {s && (
          <span class="where">
            {s.store_id} / {s.gateway_id}
          </span>
        )}
      </div>
      {session.value && !enrolling.value && (
        <nav class="nav" aria-label={t("nav.main")}>
          {[...NAV, ...(isAdmin.value ? ADMIN_NAV : [])].map(([href, key]) => {
            if (href === "/energy" && s && !s.energy) return null; // a store with no zones
            const count = href === "/alerts" ? firing : href === "/prices" ? held : 0;
            return (
              <Link
                key={href}
                href={href}
                class={active(href, path) ? "current" : undefined}
                aria-current={active(href, path) ? "page" : undefined}
              >
                {t(key)}
                {count > 0 && <span class="count" aria-label={`(${count})`}>{count}</span>}
              </Link>
            );
          })}
        </nav>
      )}
      <div class="tools">
        <button
          type="button"
          class="ghost"
          aria-label={t("lang.label")}
          onClick={() => setLang(lang.value === "zh" ? "en" : "zh")}
        >
          {t("lang.switch")}
        </button>
        {session.value && (
          <>
            <Link href="/account" class="who" aria-label={t("account.title")}>
              {session.value.user} · {t(`role.${role.value}`)}
            </Link>
            <button type="button" class="ghost" onClick={() => void logout()}>
              {t("logout")}
            </button>
          </>
        )}
      </div>
    </header>
  );
}

function App() {
  // Read the language so the whole page renders again when it changes.
  void lang.value;
  void isAdmin.value;
  if (!checked.value) return <p class="loading">{t("loading")}</p>;
  return (
    <>
      <Header />
      <main id="main">{session.value ? <View /> : <Login />}</main>
      <StepUpDialog />
    </>
  );
}

document.documentElement.lang = lang.value === "zh" ? "zh-CN" : "en";
void restore();
render(<App />, document.getElementById("app") as HTMLElement);
