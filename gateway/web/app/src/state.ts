// What the page knows, as signals: the session, the gateway's status and every device,
// kept current by the live feed (/api/live, server-sent events once a second).
import { computed, signal } from "@preact/signals";

import { type Device, type Session, type Status, ApiError, get, post, useSession } from "./api";

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

let feed: EventSource | null = null;

function loggedOut(): void {
  session.value = null;
  feed?.close();
  feed = null;
}

function begin(s: Session): void {
  useSession(s.csrf, loggedOut);
  session.value = s;
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

export async function login(user: string, password: string): Promise<void> {
  begin(await post("/api/login", {}, { user, password }));
}

export async function logout(): Promise<void> {
  try {
    await post("/api/logout", {}, undefined);
  } finally {
    loggedOut();
  }
}
