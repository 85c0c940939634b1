import { onScopeDispose, ref, type Ref } from "vue";

/** A clock ref shared by relative times and running durations; ticks while someone uses it. */
const now = ref(new Date());
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

export function useNow(): Ref<Date> {
  users++;
  if (!timer) timer = setInterval(() => (now.value = new Date()), 1000);
  onScopeDispose(() => {
    users--;
    if (users === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  });
  return now;
}
