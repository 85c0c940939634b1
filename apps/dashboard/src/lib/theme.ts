import type { TaskStatus } from "@runway/shared";

export type ThemeMode = "system" | "light" | "dark";
export const THEME_MODES: readonly ThemeMode[] = ["system", "light", "dark"];

/**
 * Status colors per theme. Each is ≥ 4.5:1 (WCAG AA for text) against the page, the card, a pill's 8–12 %
 * tint of itself, and — as a pressed chip's fill — against its `on` text color. The old palette measured
 * 2.87:1 (PENDING) to 3.38:1 on white. theme.test.ts recomputes every ratio.
 */
export const STATUS_COLORS: Record<"light" | "dark", Record<TaskStatus, string>> = {
  light: {
    NOT_STARTED: "#5c626b",
    PENDING: "#935400",
    AVAILABLE: "#0a7365",
    RUNNING: "#1d58d0",
    DONE: "#117539",
    FAILED: "#c11f3f",
    CANCELED: "#535a66",
    SKIPPED: "#6a45bd",
  },
  dark: {
    NOT_STARTED: "#a6acb6",
    PENDING: "#f0b24a",
    AVAILABLE: "#3cc9b5",
    RUNNING: "#80aaff",
    DONE: "#55c98b",
    FAILED: "#ff8597",
    CANCELED: "#aab1bd",
    SKIPPED: "#b9a2f2",
  },
};

/** Text on a filled status color, page and card backgrounds, and link/accent colors, per theme. */
export const SURFACE = {
  light: {
    on: "#ffffff",
    page: "#ffffff",
    card: "#ffffff",
    link: "#1d58d0",
    warn: "#935400",
    info: "#1d58d0",
    code: "#f3f4f6",
    highlight: "#fff3c4",
    // Secondary text (empty states, hints): 5.9:1 on white.
    muted: "#61666d",
  },
  dark: {
    on: "#101014",
    page: "#101014",
    card: "#18181c",
    link: "#80aaff",
    warn: "#f0b24a",
    info: "#80aaff",
    code: "#202026",
    highlight: "#3d3416",
    // Secondary text on the dark card: 7:1.
    muted: "#a3a8ae",
  },
} as const;

/** CSS custom properties for a theme: `--status-<STATUS>` and `--rw-<name>`, set on <html>. */
export function themeVars(dark: boolean): Record<string, string> {
  const key = dark ? "dark" : "light";
  const vars: Record<string, string> = {};
  for (const [s, c] of Object.entries(STATUS_COLORS[key])) vars[`--status-${s}`] = c;
  for (const [n, c] of Object.entries(SURFACE[key])) vars[`--rw-${n}`] = c;
  return vars;
}

/** `var(--status-X)`: a status color that follows the theme (use the hex palette only for canvases). */
export const statusVar = (s: TaskStatus): string => `var(--status-${s})`;

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two #rrggbb colors. */
export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

/** `fg` at `alpha` over `bg`, as #rrggbb. */
export function blend(fg: string, bg: string, alpha: number): string {
  return `#${[1, 3, 5]
    .map((i) =>
      Math.round(parseInt(fg.slice(i, i + 2), 16) * alpha + parseInt(bg.slice(i, i + 2), 16) * (1 - alpha))
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}
