import type { TaskStatus } from "@runway/shared";
import { h, type CSSProperties, type VNode } from "vue";
import { STATUS_STYLE } from "@/lib/status-style";

/**
 * A status pill as plain elements: color and icon tell PENDING, AVAILABLE and RUNNING apart. A function,
 * not a component, so a table row pays for two elements and an icon rather than a component instance; its
 * CSS is global (status-tag.vue), so the pill looks the same wherever it is drawn.
 */
const PILL_STYLE = Object.fromEntries(
  Object.entries(STATUS_STYLE).map(([s, { css }]) => [
    s,
    { color: css, background: `color-mix(in srgb, ${css} 8%, transparent)`, borderColor: `color-mix(in srgb, ${css} 35%, transparent)` },
  ]),
) as Record<TaskStatus, CSSProperties>;

export function statusPill(status: TaskStatus, label: string, size: "tiny" | "small" | "medium" = "small"): VNode {
  const style = STATUS_STYLE[status];
  return h("span", { class: ["status-tag", size], style: PILL_STYLE[status], "data-status": status }, [
    h(style.icon, { class: ["status-tag-icon", { "runway-spin": style.spin }] }),
    label,
  ]);
}
