import { describe, expect, it } from "vitest";
import { afterEach } from "vitest";
import { i18n } from "@/i18n";
import { emptyCounts } from "@/lib/task-counts";
import { installFakeApi } from "../../test/fake-api";
import { mountWithApp } from "../../test/mount";
import StatusChips from "./status-chips.vue";

describe("status chips", () => {
  afterEach(() => {
    i18n.global.locale.value = "en";
  });

  it("shows All and one chip per status with its count", async () => {
    installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
    const counts = { ...emptyCounts(), AVAILABLE: 3, PENDING: 12, RUNNING: 1234 };
    const { wrapper } = await mountWithApp(StatusChips, { props: { counts, total: 1249, selected: [] }, path: "/projects" });
    expect(wrapper.find('[data-testid="chip-ALL"]').text()).toContain("1,249");
    const available = wrapper.find('[data-testid="chip-AVAILABLE"]');
    expect(available.text()).toContain("Available");
    expect(available.text()).toContain("3");
    expect(wrapper.find('[data-testid="chip-RUNNING"]').text()).toContain("1,234");
    expect(wrapper.findAll("[data-testid^=chip-]").length).toBe(9);
  });

  it("toggles statuses in display order, and All clears", async () => {
    installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
    const { wrapper } = await mountWithApp(StatusChips, {
      props: { counts: emptyCounts(), total: 0, selected: ["RUNNING"] },
      path: "/projects",
    });
    await wrapper.find('[data-testid="chip-AVAILABLE"]').trigger("click");
    await wrapper.find('[data-testid="chip-RUNNING"]').trigger("click");
    await wrapper.find('[data-testid="chip-ALL"]').trigger("click");
    expect(wrapper.emitted("update:selected")).toEqual([[["AVAILABLE", "RUNNING"]], [[]], [[]]]);
  });

  it("reads 就绪 in Chinese", async () => {
    installFakeApi((a) => (a.user = { username: "admin", role: "admin" }));
    i18n.global.locale.value = "zh";
    const { wrapper } = await mountWithApp(StatusChips, { props: { counts: emptyCounts(), total: 0, selected: [] }, path: "/projects" });
    expect(wrapper.find('[data-testid="chip-AVAILABLE"]').text()).toContain("就绪");
  });
});
