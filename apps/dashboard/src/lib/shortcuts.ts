/** The rollout page's keyboard shortcuts (documented in the "?" dialog and docs/keyboard.md). */
export type ShortcutCommand = "help" | "next" | "previous" | "open" | "select" | "run" | "cancel" | "tasks" | "timeline";

export const SHORTCUTS: readonly { keys: readonly string[]; command: ShortcutCommand }[] = [
  { keys: ["?"], command: "help" },
  { keys: ["j", "ArrowDown"], command: "next" },
  { keys: ["k", "ArrowUp"], command: "previous" },
  { keys: ["Enter"], command: "open" },
  { keys: ["x", " "], command: "select" },
  { keys: ["r"], command: "run" },
  { keys: ["c"], command: "cancel" },
  { keys: ["t"], command: "tasks" },
  { keys: ["l"], command: "timeline" },
];

/** Row commands act only on a focused row; the others also anywhere outside a text field. */
const ROW_ONLY = new Set<ShortcutCommand>(["open", "select"]);
/** Arrow keys and Space keep their usual meaning outside the table. */
const ROW_KEYS = new Set(["ArrowDown", "ArrowUp", " "]);

/**
 * The command a key press means, or null. Nothing while typing, with a modifier (browser and screen-reader
 * shortcuts stay theirs), or for row keys when focus is not on a task row.
 */
export function commandFor(
  e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">,
  target: { inField: boolean; onRow: boolean },
): ShortcutCommand | null {
  if (e.ctrlKey || e.metaKey || e.altKey || target.inField) return null;
  const hit = SHORTCUTS.find((s) => s.keys.includes(e.key));
  if (!hit) return null;
  if ((ROW_ONLY.has(hit.command) || ROW_KEYS.has(e.key)) && !target.onRow) return null;
  return hit.command;
}
