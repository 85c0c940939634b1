import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, onForbidden, request } from "./http";

afterEach(() => {
  vi.unstubAllGlobals();
  onForbidden(undefined);
});

describe("request", () => {
  it("a connection that fails is an ApiError with code NETWORK", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    await expect(request("GET", "/projects")).rejects.toMatchObject({ name: "ApiError", status: 0, code: "NETWORK" });
  });

  it("a server that never answers is given up on: code TIMEOUT", async () => {
    // Honours the abort signal as the browser's fetch does.
    vi.stubGlobal(
      "fetch",
      (_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
    );
    const err = await request("GET", "/projects", { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 0, code: "TIMEOUT" });
  });

  it("calls the forbidden handler on a 403 (the role is reloaded), and still throws", async () => {
    const forbidden = vi.fn();
    onForbidden(forbidden);
    vi.stubGlobal("fetch", () =>
      Promise.resolve(
        new Response(JSON.stringify({ error: { code: "PERMISSION_DENIED", message: "POST /x needs releaser" } }), { status: 403 }),
      ),
    );
    await expect(request("POST", "/rollouts/1/tasks/bulk", { body: {} })).rejects.toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(forbidden).toHaveBeenCalledTimes(1);
  });
});
