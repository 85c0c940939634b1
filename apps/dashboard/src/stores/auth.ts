import { Role } from "@runway/shared";
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import {
  authLogin,
  authLogout,
  authMe,
  onForbidden,
  onUnauthenticated,
  setCsrfToken,
  signOutEverywhere as apiSignOutEverywhere,
  type Me,
} from "@/api";
import type { ProjectRole } from "@/api/types";

/** Who is signed in, and what the role may do. The server still refuses; this only shapes the UI. */
export const useAuthStore = defineStore("auth", () => {
  const user = ref<Me | null>(null);
  const loaded = ref(false);
  /** Set when a request came back 401 after we thought we were signed in. */
  const expired = ref(false);

  const role = computed(() => user.value?.role ?? null);
  const signedIn = computed(() => user.value !== null);
  /** Run, cancel, skip and retry: releasers and admins. */
  const canOperate = computed(() => role.value === Role.RELEASER || role.value === Role.ADMIN);
  const isAdmin = computed(() => role.value === Role.ADMIN);
  /** The role inside one project: a project role replaces the global one there; admins are admins everywhere. */
  function roleIn(projectId: string | null | undefined): Role | ProjectRole | null {
    if (!role.value || role.value === Role.ADMIN || !projectId) return role.value;
    return user.value?.projectRoles?.[projectId] ?? role.value;
  }
  /** Run, cancel, skip and retry in that project (the server checks the same rule). */
  function canOperateIn(projectId: string | null | undefined): boolean {
    const r = roleIn(projectId);
    return r === Role.RELEASER || r === Role.ADMIN;
  }

  function setUser(me: Me | null) {
    user.value = me;
    setCsrfToken(me?.csrfToken);
  }

  async function load(force = false): Promise<Me | null> {
    if (loaded.value && !force) return user.value;
    setUser(await authMe());
    loaded.value = true;
    return user.value;
  }

  async function login(username: string, password: string): Promise<Me> {
    await authLogin(username, password);
    const me = await authMe();
    if (!me) throw new Error("signed in, but the session was not kept (are cookies blocked?)");
    expired.value = false;
    setUser(me);
    loaded.value = true;
    return me;
  }

  async function logout(): Promise<void> {
    try {
      await authLogout();
    } finally {
      setUser(null);
    }
  }

  /** Ends every session of this user (this one too) and revokes all their API tokens. */
  async function signOutEverywhere(): Promise<void> {
    await apiSignOutEverywhere();
    setUser(null);
  }

  onUnauthenticated(() => {
    if (user.value) expired.value = true;
    setUser(null);
  });

  let reloading: Promise<void> | null = null;
  /**
   * After a 403 the role we show may be out of date (an admin lowered it meanwhile): ask again, so the
   * buttons follow without a page reload. A burst of 403s asks once.
   */
  function reloadRole(): Promise<void> {
    if (!user.value) return Promise.resolve();
    reloading ??= load(true)
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => (reloading = null));
    return reloading;
  }
  onForbidden(() => void reloadRole());

  return {
    user,
    loaded,
    expired,
    role,
    signedIn,
    canOperate,
    isAdmin,
    roleIn,
    canOperateIn,
    load,
    login,
    logout,
    signOutEverywhere,
    reloadRole,
  };
});
