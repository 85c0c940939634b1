import { TaskStatus } from "@runway/shared";
import {
  BanOutline,
  CheckmarkCircleOutline,
  CloseCircleOutline,
  EllipseOutline,
  HourglassOutline,
  PlaySkipForwardOutline,
  RocketOutline,
  SyncOutline,
} from "@vicons/ionicons5";
import type { Component } from "vue";
import { STATUS_COLORS, statusVar } from "./theme";

export interface StatusStyle {
  /** The light theme's hex color, for canvases (the timeline); elements use `css`, which follows the theme. */
  color: string;
  /** `var(--status-X)` (lib/theme.ts). */
  css: string;
  icon: Component;
  /** Spin the icon (RUNNING). */
  spin?: boolean;
}

/**
 * PENDING (held by a gate: amber hourglass), AVAILABLE (ready, about to start: teal rocket) and RUNNING
 * (blue spinner) must be told apart at a glance, by color and by icon.
 */
export const STATUS_STYLE: Record<TaskStatus, StatusStyle> = {
  [TaskStatus.NOT_STARTED]: { color: STATUS_COLORS.light.NOT_STARTED, css: statusVar(TaskStatus.NOT_STARTED), icon: EllipseOutline },
  [TaskStatus.PENDING]: { color: STATUS_COLORS.light.PENDING, css: statusVar(TaskStatus.PENDING), icon: HourglassOutline },
  [TaskStatus.AVAILABLE]: { color: STATUS_COLORS.light.AVAILABLE, css: statusVar(TaskStatus.AVAILABLE), icon: RocketOutline },
  [TaskStatus.RUNNING]: { color: STATUS_COLORS.light.RUNNING, css: statusVar(TaskStatus.RUNNING), icon: SyncOutline, spin: true },
  [TaskStatus.DONE]: { color: STATUS_COLORS.light.DONE, css: statusVar(TaskStatus.DONE), icon: CheckmarkCircleOutline },
  [TaskStatus.FAILED]: { color: STATUS_COLORS.light.FAILED, css: statusVar(TaskStatus.FAILED), icon: CloseCircleOutline },
  [TaskStatus.CANCELED]: { color: STATUS_COLORS.light.CANCELED, css: statusVar(TaskStatus.CANCELED), icon: BanOutline },
  [TaskStatus.SKIPPED]: { color: STATUS_COLORS.light.SKIPPED, css: statusVar(TaskStatus.SKIPPED), icon: PlaySkipForwardOutline },
};
