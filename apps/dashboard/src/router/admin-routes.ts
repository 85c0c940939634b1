import type { RouteRecordRaw } from "vue-router";

/** The admin pages (admins only: the router sends anyone else away, and the API refuses them anyway). */
export const adminRoutes: RouteRecordRaw[] = [
  { path: "/admin", redirect: "/admin/users" },
  { path: "/admin/users", name: "admin-users", component: () => import("@/views/admin-users-view.vue"), meta: { admin: true } },
  { path: "/admin/instances", name: "admin-instances", component: () => import("@/views/admin-instances-view.vue"), meta: { admin: true } },
  { path: "/admin/audit", name: "admin-audit", component: () => import("@/views/admin-audit-view.vue"), meta: { admin: true } },
];
