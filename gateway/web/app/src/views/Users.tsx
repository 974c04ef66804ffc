// Users and who is signed in (admins). Every change is a sensitive action: the second
// factor is asked for inline when it was not confirmed in the last 5 minutes. A user
// whose role, state or password changes is signed out everywhere.
import { useEffect, useState } from "preact/hooks";

import { type User, type WebSession, del, get, post } from "../api";
import { StateWord } from "../components/Badge";
import { Notice, errorText } from "../components/Notice";
import { Head } from "../components/Table";
import { relative } from "../format";
import { t } from "../i18n";
import { clock, session } from "../state";

const ROLES = ["viewer", "technician", "admin"] as const;

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function UserRow(props: { user: User; onChange: (text: string) => void; onError: (text: string) => void }) {
  const u = props.user;
  const [confirming, setConfirming] = useState(false);
  const me = session.value?.user === u.name;
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      props.onChange(done);
    } catch (e) {
      props.onError(errorText(e));
    }
  };
  return (
    <tr data-user={u.name}>
      <th scope="row">
        {u.name}
        {me && <span class="muted"> ({t("users.you")})</span>}
      </th>
      <td data-label={t("users.role")}>
        <select
          aria-label={t("users.role_of", { user: u.name })}
          value={u.role}
          onChange={(ev) => {
            const role = (ev.target as HTMLSelectElement).value;
            void act(() => post("/api/users/{name}", { name: u.name }, { role: role as User["role"] }), t("users.role_changed", { user: u.name, role: t(`role.${role}`) }));
          }}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`role.${r}`)}
            </option>
          ))}
        </select>
      </td>
      <td data-label={t("users.state")}>
        <StateWord state={u.disabled ? "down" : "up"} text={t(u.disabled ? "users.disabled" : "users.active")} />
      </td>
      <td data-label={t("users.factor")}>
        {u.second_factor ? (
          <StateWord state="up" text={t("yes")} />
        ) : (
          <StateWord state={u.second_factor_required ? "down" : "muted"} text={t(u.second_factor_required ? "users.factor_missing" : "no")} />
        )}
      </td>
      <td data-label={t("users.sessions")}>{u.sessions}</td>
      <td data-label={t("users.password_set")}>{relative(iso(u.password_at), clock.value)}</td>
      <td class="actions-cell">
        <div class="row-actions">
        <button
          type="button"
          onClick={() =>
            void act(
              () => post("/api/users/{name}", { name: u.name }, { disabled: !u.disabled }),
              t(u.disabled ? "users.enabled_done" : "users.disabled_done", { user: u.name }),
            )
          }
        >
          {t(u.disabled ? "users.enable" : "users.disable")}
        </button>
        {u.second_factor && (
          <button
            type="button"
            onClick={() =>
              void act(() => post("/api/users/{name}/second-factor/reset", { name: u.name }, undefined), t("users.reset_done", { user: u.name }))
            }
          >
            {t("users.reset")}
          </button>
        )}
        {confirming ? (
          <>
            <button type="button" class="danger" onClick={() => void act(() => del("/api/users/{name}", { name: u.name }), t("users.removed", { user: u.name }))}>
              {t("users.remove_confirm", { user: u.name })}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              {t("cancel")}
            </button>
          </>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            {t("users.remove")}
          </button>
        )}
        </div>
      </td>
    </tr>
  );
}

function AddUser(props: { onDone: (text: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="add-user"
      id="add-user"
      onSubmit={async (ev) => {
        ev.preventDefault();
        const form = ev.currentTarget;
        const data = new FormData(form);
        setBusy(true);
        setError(null);
        try {
          const name = String(data.get("name") ?? "");
          const role = String(data.get("role")) as User["role"];
          await post("/api/users", {}, { name, role, password: String(data.get("password") ?? "") });
          form.reset();
          props.onDone(t("users.added", { user: name, role: t(`role.${role}`) }));
        } catch (e) {
          setError(errorText(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h3>{t("users.add")}</h3>
      <div class="fields">
        <label>
          {t("login.user")}
          <input name="name" required pattern="[A-Za-z0-9._\-]{1,64}" autoComplete="off" />
        </label>
        <label>
          {t("users.role")}
          <select name="role">
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("users.first_password")}
          <input name="password" type="password" minLength={10} required autoComplete="new-password" />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {t("users.add_button")}
        </button>
      </div>
      <Notice tone="error" text={error} />
    </form>
  );
}

export function Users() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [sessions, setSessions] = useState<WebSession[]>([]);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setUsers((await get("/api/users")).users);
      setSessions((await get("/api/sessions")).sessions);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const changed = (text: string) => {
    setError(null);
    setDone(text);
    void load();
  };
  const failed = (text: string) => {
    setDone(null);
    setError(text);
    void load();
  };
  return (
    <div class="view users">
      <h1>{t("users.title")}</h1>
      <Notice tone="ok" text={done} onClose={() => setDone(null)} />
      <Notice tone="error" text={error} />
      <section class="panel" aria-labelledby="users-title">
        <h2 id="users-title">{t("users.list")}</h2>
        {users === null ? (
          <p class="loading">{t("loading")}</p>
        ) : (
          <div class="table-wrap">
            <table class="table cards-on-phone" id="users">
              <Head
                columns={[
                  t("login.user"),
                  t("users.role"),
                  t("users.state"),
                  t("users.factor"),
                  t("users.sessions"),
                  t("users.password_set"),
                  "",
                ]}
              />
              <tbody>
                {users.map((u) => (
                  <UserRow key={u.name} user={u} onChange={changed} onError={failed} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <AddUser onDone={changed} />
      </section>
      <section class="panel" aria-labelledby="sessions-title">
        <h2 id="sessions-title">{t("users.signed_in")}</h2>
        <div class="table-wrap">
          <table class="table cards-on-phone" id="sessions">
            <Head
              columns={[
                t("login.user"),
                t("users.role"),
                t("users.address"),
                t("users.since"),
                t("users.idle"),
                t("users.factor"),
                "",
              ]}
            />
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <th scope="row">
                    {s.user}
                    {s.yours && <span class="muted"> ({t("users.this_session")})</span>}
                  </th>
                  <td data-label={t("users.role")}>{t(`role.${s.role}`)}</td>
                  <td data-label={t("users.address")}>
                    <code>{s.address}</code>
                  </td>
                  <td data-label={t("users.since")}>{relative(iso(s.signed_in_at), clock.value)}</td>
                  <td data-label={t("users.idle")}>{t("users.idle_s", { n: s.idle_s })}</td>
                  <td data-label={t("users.factor")}>{t(s.second_factor ? "yes" : "no")}</td>
                  <td class="actions-cell">
                    {!s.yours && (
                      <button
                        type="button"
                        onClick={async () => {
                          try {
                            await post("/api/sessions/{session_id}/sign-out", { session_id: s.id }, undefined);
                            changed(t("users.signed_out", { user: s.user }));
                          } catch (e) {
                            failed(errorText(e));
                          }
                        }}
                      >
                        {t("users.sign_out")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
