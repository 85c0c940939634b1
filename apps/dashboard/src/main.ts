import { createPinia } from "pinia";
import { createApp } from "vue";
import { installNaiveA11y } from "./adapter/naive-a11y";
import App from "./app.vue";
import { i18n } from "./i18n";
import { createAppRouter } from "./router";
import { useAuthStore } from "./stores/auth";

const app = createApp(App);
const pinia = createPinia();
app.use(pinia);
app.use(i18n);
const router = createAppRouter();
app.use(router);

// A request came back 401 (the session ended): go to the sign-in page, then come back.
const auth = useAuthStore(pinia);
auth.$subscribe(() => {
  const current = router.currentRoute.value;
  if (!auth.signedIn && auth.loaded && !current.meta.public) {
    void router.replace({ name: "login", query: { redirect: current.fullPath } });
  }
});

app.mount("#app");
installNaiveA11y();
