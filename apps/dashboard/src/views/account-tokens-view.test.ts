import { describe, expect, it, vi } from "vitest";
import { installFakeApi } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import App from "../app.vue";

const day = 86_400_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

async function openTokens() {
  const api = installFakeApi((a) => {
    a.user = { username: "alice", role: "admin" };
    a.apiTokens = [
      {
        id: "1",
        username: "alice",
        name: "old ci",
        createdAt: iso(-40 * day),
        lastUsedAt: iso(-3600_000),
        revokedAt: null,
        expiresAt: iso(-day),
      },
      { id: "2", username: "alice", name: "laptop", createdAt: iso(-2 * day), lastUsedAt: null, revokedAt: null, expiresAt: iso(88 * day) },
      { id: "3", username: "alice", name: "gone", createdAt: iso(-5 * day), lastUsedAt: null, revokedAt: iso(-day), expiresAt: null },
      // An admin's GET /tokens lists everyone's: the page shows one's own.
      { id: "4", username: "bob", name: "bob's", createdAt: iso(-day), lastUsedAt: null, revokedAt: null, expiresAt: null },
    ];
  });
  const mounted = await mountWithApp(App, { path: "/account/tokens" });
  await vi.waitFor(() => expect(mounted.wrapper.findAll('[data-testid="token-row"]').length).toBeGreaterThan(0), { timeout: 5000 });
  return { api, ...mounted };
}

describe("My API tokens page", () => {
  it("lists one's own live tokens, newest first, with created, last used and expiry", async () => {
    const { wrapper } = await openTokens();
    const rows = wrapper.findAll('[data-testid="token-row"]');
    expect(rows.map((r) => r.attributes("data-token-id"))).toEqual(["2", "1"]);
    expect(rows[0]!.find('[data-testid="token-last-used"]').text()).toBe("Not used yet");
    expect(rows[0]!.find('[data-testid="token-expired"]').exists()).toBe(false);
    expect(rows[1]!.find('[data-testid="token-expired"]').text()).toBe("Expired");
    expect(rows[1]!.find('[data-testid="token-last-used"]').text()).toBe("1 hour ago");
    expect(rows[0]!.find('[data-testid="token-revoke"]').attributes("aria-label")).toBe("Revoke token laptop");
    wrapper.unmount();
  });

  it("shows a new token's secret once, focused and announced, until dismissed", async () => {
    const { wrapper, api } = await openTokens();
    await wrapper.find('[data-testid="token-name"] input').setValue("deploy");
    await wrapper.find('[data-testid="token-create-form"]').trigger("submit");
    await vi.waitFor(() => expect(wrapper.find('[data-testid="token-secret"] input').exists()).toBe(true));
    const input = wrapper.find('[data-testid="token-secret"] input');
    expect((input.element as HTMLInputElement).value).toMatch(/^rwt_secret_/);
    await vi.waitFor(() => expect(document.activeElement).toBe(input.element));
    expect(wrapper.find('[data-testid="tokens-announcer"]').text()).toBe("Token “deploy” created");
    expect(api.calls("POST", "/tokens")[0]!.body).toEqual({ name: "deploy", expiresInDays: 90 });
    await vi.waitFor(() => expect(wrapper.findAll('[data-testid="token-row"]')).toHaveLength(3));
    await wrapper.find('[data-testid="token-dismiss"]').trigger("click");
    expect(wrapper.find('[data-testid="token-secret"]').exists()).toBe(false);
    expect(wrapper.text()).not.toContain("rwt_secret_");
    wrapper.unmount();
  });

  it("revokes a token only after confirmation", async () => {
    const { wrapper, api } = await openTokens();
    await wrapper.find('[data-token-id="2"] [data-testid="token-revoke"]').trigger("click");
    const confirm = await vi.waitFor(() => {
      const b = document.body.querySelector<HTMLButtonElement>('[data-testid="confirm-action"]');
      expect(b).not.toBeNull();
      return b!;
    });
    expect(api.calls("DELETE", "/tokens/2")).toHaveLength(0);
    confirm.click();
    await vi.waitFor(() => expect(wrapper.findAll('[data-testid="token-row"]').map((r) => r.attributes("data-token-id"))).toEqual(["1"]));
    expect(api.calls("DELETE", "/tokens/2")).toHaveLength(1);
    wrapper.unmount();
  });
});
