import { mount, type ComponentMountingOptions, type VueWrapper } from "@vue/test-utils";
import { createPinia, setActivePinia, type Pinia } from "pinia";
import { createMemoryHistory, type Router } from "vue-router";
import type { Component } from "vue";
import { i18n } from "@/i18n";
import { createAppRouter } from "@/router";

/** Mounts a component with the app's pinia, i18n and router (memory history). */
export async function mountWithApp<C extends Component>(
  component: C,
  options: ComponentMountingOptions<C> & { path?: string; pinia?: Pinia } = {},
): Promise<{ wrapper: VueWrapper; router: Router }> {
  const pinia = options.pinia ?? createPinia();
  setActivePinia(pinia);
  const router = createAppRouter(createMemoryHistory());
  await router.push(options.path ?? "/");
  await router.isReady();
  const wrapper = mount(component as never, {
    ...options,
    global: { plugins: [pinia, i18n, router], ...(options.global ?? {}) },
    attachTo: document.body,
  }) as unknown as VueWrapper;
  return { wrapper, router };
}
