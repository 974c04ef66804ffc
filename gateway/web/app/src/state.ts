// What the page knows, as signals: the session, the gateway's status and every device,
// kept current by the live feed (/api/live, server-sent events once a second).
import { computed, signal } from "@preact/signals";

import {
  type Device,
  type Session,
  type Status,
  ApiError,
  get,
  onStepUp,
  post,
  useSession,
} from "./api";

export const session = signal<Session | null>(null);
export const checked = signal(false); // the session was asked for once
export const status = signal<Status | null>(null);
export const devices = signal<ReadonlyMap<string, Device>>(new Map());
export const clock = signal(Date.now()); // ticks every second: relative times move

setInterval(() => {
  clock.value = Date.now();
}, 1000);

export const role = computed(() => session.value?.role ?? null);
export const canAct = computed(() => role.value === "technician" || role.value === "admin");
export const isAdmin = computed(() => role.value === "admin");
/** Signed in only to set up the second factor the role needs: nothing else until then. */
export const enrolling = computed(() => session.value?.enrol_required === true);

/** A sensitive action waits for the second factor (the step-up dialog shows while set). */
export const stepUp = signal<{ action: string; done: (ok: boolean) => void } | null>(null);

onStepUp(
  (action) =>
    new Promise<boolean>((resolve) => {
      stepUp.value = {
        action,
        done: (ok) => {
          stepUp.value = null;
          resolve(ok);
        },
      };
    }),
);

let feed: EventSource | null = null;

function loggedOut(): void {
  session.value = null;
  feed?.close();
  feed = null;
}

/** A new view of the session (after a step-up, a password change, a second factor set up). */
export function renewed(s: Session): void {
  useSession(s.csrf, loggedOut);
  const was = session.value;
  session.value = s;
  if (was?.enrol_required && !s.enrol_required) begin(s); // set up: the page opens
}

function begin(s: Session): void {
  useSession(s.csrf, loggedOut);
  session.value = s;
  if (s.enrol_required) return; // only the second factor's set-up until it is done
  void refreshDevices();
  get("/api/status").then((v) => {
    status.value = v;
  });
  feed?.close();
  feed = new EventSource("/api/live");
  feed.addEventListener("update", (ev) => {
    const batch = JSON.parse((ev as MessageEvent<string>).data) as {
      status: Status;
      devices: Device[];
    };
    status.value = batch.status;
    if (batch.devices.length) {
      const next = new Map(devices.value);
      for (const d of batch.devices) next.set(d.device_id, d);
      devices.value = next;
    }
  });
}

export async function refreshDevices(): Promise<void> {
  const body = await get("/api/devices");
  devices.value = new Map(body.devices.map((d) => [d.device_id, d]));
}

export async function restore(): Promise<void> {
  try {
    begin(await get("/api/session"));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
  } finally {
    checked.value = true;
  }
}

export async function login(user: string, password: string, code?: string): Promise<void> {
  begin(await post("/api/login", {}, code ? { user, password, code } : { user, password }));
}

export async function logout(): Promise<void> {
  try {
    await post("/api/logout", {}, undefined);
  } finally {
    loggedOut();
  }
}
