import { afterEach, beforeEach, expect, it } from "vitest";
import { Listener } from "../src/db/listener.js";
import { TargetGuard } from "../src/executors/target-guard.js";
import { startInstanceLister } from "../src/scheduler/instance-lister.js";
import { controlIdentity } from "../src/store/control.js";
import { instanceDatabasesGet } from "../src/store/instance-databases.js";
import { instanceCreate, instanceUpdate } from "../src/store/instances.js";
import { testSecrets } from "./helpers/api.js";
import { targetServerUrl, useTestDatabase, waitFor } from "./helpers/db.js";

/**
 * An instance is listed when it is added, and again when its connection changes — not at the listing loop's
 * next round (a minute later at best), during which its groups and release plans named none of its databases.
 * The loop here looks for due instances every 5 minutes: only the store's notification can list them in time.
 */
const t = useTestDatabase();
let listener: Listener;
let lister: ReturnType<typeof startInstanceLister>;

beforeEach(async () => {
  listener = new Listener(t.url);
  await listener.start();
  lister = startInstanceLister({
    db: t.db,
    listener,
    clock: { now: () => new Date() },
    trust: { guard: new TargetGuard(await controlIdentity(t.db)), secrets: testSecrets },
    log: { error: () => undefined },
    everyMs: 300_000,
  });
  // The loop's first round (at start) is over, with nothing due: the next is 5 minutes away.
  await lister.firstRound;
});
afterEach(async () => {
  await lister.stop();
  await listener.close();
});

const listedAt = async (id: string) => (await instanceDatabasesGet(t.db, id)).listedAt;

it("lists an instance as soon as it is added", async () => {
  await instanceCreate(t.db, { id: "fresh", title: "Fresh", connectionUrl: targetServerUrl() }, testSecrets);
  const listing = await waitFor(
    async () => {
      const l = await instanceDatabasesGet(t.db, "fresh");
      return l.listedAt !== null && l;
    },
    { timeoutMs: 10_000, what: "the new instance's listing" },
  );
  expect(listing.databases).toContain("postgres");
});

it("lists it again when its connection changes, however recently it was listed", async () => {
  await instanceCreate(t.db, { id: "moved", title: "Moved", connectionUrl: targetServerUrl() }, testSecrets);
  const first = await waitFor(() => listedAt("moved"), { timeoutMs: 10_000, what: "the first listing" });
  const url = new URL(targetServerUrl());
  url.searchParams.set("application_name", "moved");
  await instanceUpdate(t.db, "moved", { connectionUrl: url.toString() }, testSecrets);
  await waitFor(
    async () => {
      const again = await listedAt("moved");
      return again !== null && again.getTime() > first.getTime();
    },
    { timeoutMs: 10_000, what: "a listing after the change" },
  );
});
