import { createRouter, createWebHistory, type RouteRecordRaw, type Router, type RouterHistory } from "vue-router";
import { useAuthStore } from "@/stores/auth";
import { adminRoutes } from "./admin-routes";

declare module "vue-router" {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean;
    /** Only admins. */
    admin?: boolean;
  }
}

export const routes: RouteRecordRaw[] = [
  { path: "/", redirect: "/projects" },
  { path: "/login", name: "login", component: () => import("@/views/login-view.vue"), meta: { public: true } },
  { path: "/projects", name: "projects", component: () => import("@/views/project-list-view.vue") },
  { path: "/projects/:projectId", redirect: (to) => `/projects/${String(to.params.projectId)}/rollouts` },
  {
    path: "/projects/:projectId/rollouts",
    name: "rollouts",
    component: () => import("@/views/rollout-list-view.vue"),
    props: true,
  },
  { path: "/projects/:projectId/rollouts/new", name: "new-rollout", component: () => import("@/views/new-rollout-view.vue"), props: true },
  { path: "/instances/:instanceId", name: "instance", component: () => import("@/views/instance-view.vue"), props: true },
  {
    path: "/projects/:projectId/settings",
    name: "project-settings",
    component: () => import("@/views/project-settings-view.vue"),
    props: true,
    meta: { admin: true },
  },
  ...adminRoutes,
  { path: "/account/tokens", name: "account-tokens", component: () => import("@/views/account-tokens-view.vue") },
  { path: "/rollouts/:rolloutId", name: "rollout", component: () => import("@/views/rollout-view.vue"), props: true },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("@/views/not-found-view.vue"), meta: { public: true } },
];

export function createAppRouter(history: RouterHistory = createWebHistory()): Router {
  const router = createRouter({ history, routes });
  router.beforeEach(async (to) => {
    const auth = useAuthStore();
    // A failed session probe (not a 401: that is "no session") is tried once more before we send the
    // user to sign in.
    if (!auth.loaded)
      await auth
        .load()
        .catch(() => auth.load(true))
        .catch(() => null);
    if (to.name === "login" && auth.signedIn) return { path: typeof to.query.redirect === "string" ? to.query.redirect : "/" };
    if (!to.meta.public && !auth.signedIn) return { name: "login", query: { redirect: to.fullPath } };
    if (to.meta.admin && !auth.isAdmin) return { name: "projects" };
    return true;
  });
  return router;
}
