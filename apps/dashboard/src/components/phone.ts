import { onBeforeUnmount, ref, type Ref } from "vue";

/** Narrower than this, the dashboard lays out for a phone (tasks as cards, full-width drawer). */
export const PHONE_MAX_WIDTH = 640;
/** A task card's height on a phone (fixed, so the virtual window can place cards without measuring). */
export const PHONE_CARD_HEIGHT = 196;

/** Whether the window is phone-sized now; follows rotation and resizing. */
export function usePhone(): Ref<boolean> {
  const media = globalThis.matchMedia?.(`(max-width: ${PHONE_MAX_WIDTH}px)`);
  const phone = ref(media?.matches ?? false);
  const listener = (e: MediaQueryListEvent) => (phone.value = e.matches);
  media?.addEventListener?.("change", listener);
  onBeforeUnmount(() => media?.removeEventListener?.("change", listener));
  return phone;
}
