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

export interface StatusStyle {
  color: string;
  icon: Component;
  /** Spin the icon (RUNNING). */
  spin?: boolean;
}

/**
 * PENDING (held by a gate: amber hourglass), AVAILABLE (ready, about to start: teal rocket) and RUNNING
 * (blue spinner) must be told apart at a glance, by color and by icon.
 */
export const STATUS_STYLE: Record<TaskStatus, StatusStyle> = {
  [TaskStatus.NOT_STARTED]: { color: "#8a8f98", icon: EllipseOutline },
  [TaskStatus.PENDING]: { color: "#d48806", icon: HourglassOutline },
  [TaskStatus.AVAILABLE]: { color: "#0f9d8a", icon: RocketOutline },
  [TaskStatus.RUNNING]: { color: "#2f6fed", icon: SyncOutline, spin: true },
  [TaskStatus.DONE]: { color: "#18a058", icon: CheckmarkCircleOutline },
  [TaskStatus.FAILED]: { color: "#d03050", icon: CloseCircleOutline },
  [TaskStatus.CANCELED]: { color: "#5c6370", icon: BanOutline },
  [TaskStatus.SKIPPED]: { color: "#8a63d2", icon: PlaySkipForwardOutline },
};
