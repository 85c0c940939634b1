import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { projectList, projectUpdate, setCsrfToken } from "@/api";
import { installFakeApi, type FakeApi } from "../../test/fake-api";
import { useAuthStore } from "./auth";

describe("auth store", () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = installFakeApi();
  });

  it("has no user when there is no session", async () => {
    const auth = useAuthStore();
    expect(await auth.load()).toBeNull();
    expect(auth.loaded).toBe(true);
    expect(auth.signedIn).toBe(false);
    expect(auth.canOperate).toBe(false);
  });

  it("signs in, then sends the CSRF token on mutations", async () => {
    const auth = useAuthStore();
    await auth.login("admin", "secret");
    expect(auth.user).toMatchObject({ username: "admin", role: "admin" });
    expect(auth.isAdmin).toBe(true);
    await projectUpdate("shop", { parallelTasksPerRollout: 4 });
    expect(api.calls("PATCH", "/projects/shop")[0]?.headers["x-csrf-token"]).toBe("csrf-123");
    expect(api.projects[0]?.parallelTasksPerRollout).toBe(4);
  });

  it("rejects a wrong password with the server's message", async () => {
    const auth = useAuthStore();
    await expect(auth.login("admin", "nope")).rejects.toThrow("wrong username or password");
    expect(auth.signedIn).toBe(false);
  });

  it("shapes the UI by role: viewers may not operate", async () => {
    api.users.set("vera", { password: "pw", role: "viewer" });
    api.users.set("rick", { password: "pw", role: "releaser" });
    const auth = useAuthStore();
    await auth.login("vera", "pw");
    expect([auth.canOperate, auth.isAdmin]).toEqual([false, false]);
    await auth.login("rick", "pw");
    expect([auth.canOperate, auth.isAdmin]).toEqual([true, false]);
  });

  it("shapes the UI by the role in the project: a project role replaces the global one there", async () => {
    api.users.set("rick", { password: "pw", role: "releaser" });
    api.users.set("vera", { password: "pw", role: "viewer" });
    const auth = useAuthStore();
    await auth.login("rick", "pw");
    api.user = { ...api.user!, projectRoles: { prod: "viewer" } };
    await auth.load(true);
    expect([auth.canOperateIn("prod"), auth.canOperateIn("dev"), auth.roleIn("prod")]).toEqual([false, true, "viewer"]);
    await auth.login("vera", "pw");
    api.user = { ...api.user!, projectRoles: { dev: "releaser" } };
    await auth.load(true);
    expect([auth.canOperateIn("dev"), auth.canOperateIn("prod"), auth.canOperate]).toEqual([true, false, false]);
  });

  it("signs out and forgets the user", async () => {
    const auth = useAuthStore();
    await auth.login("admin", "secret");
    await auth.logout();
    expect(auth.user).toBeNull();
    expect(api.user).toBeNull();
    expect(api.calls("POST", "/auth/logout")[0]?.headers["x-csrf-token"]).toBe("csrf-123");
  });

  it("notices an ended session on any 401 and marks it expired", async () => {
    const auth = useAuthStore();
    await auth.login("admin", "secret");
    api.user = null; // the server forgot the session
    await expect(projectList()).rejects.toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect(auth.signedIn).toBe(false);
    expect(auth.expired).toBe(true);
  });

  it("reloads the role after a 403, so the buttons follow a role lowered meanwhile", async () => {
    api.users.set("rick", { password: "pw", role: "releaser" });
    const auth = useAuthStore();
    await auth.login("rick", "pw");
    expect(auth.canOperate).toBe(true);
    // An admin lowers the role; the next mutation is refused (here: by the fake's CSRF check, a 403 like any other).
    api.user = { username: "rick", role: "viewer" };
    setCsrfToken(undefined);
    const before = api.calls("GET", "/auth/me").length;
    await expect(projectUpdate("shop", { parallelTasksPerRollout: 4 })).rejects.toMatchObject({ status: 403 });
    await vi.waitFor(() => expect(auth.role).toBe("viewer"));
    expect(auth.canOperate).toBe(false);
    expect(api.calls("GET", "/auth/me").length).toBe(before + 1);
  });
});
