/**
 * Which rows of a long, fixed-row-height list to render: the ones in view plus `overscan` on each side,
 * and the space the rest takes above and below. Pure, so the table's scrolling math is unit-tested.
 */
export interface VirtualWindow {
  start: number;
  end: number;
  padTop: number;
  padBottom: number;
}

export function virtualWindow(p: {
  count: number;
  scrollTop: number;
  viewport: number;
  rowHeight: number;
  overscan: number;
}): VirtualWindow {
  const { count, rowHeight, overscan } = p;
  const inView = Math.ceil(Math.max(p.viewport, rowHeight) / rowHeight) + 1;
  // A stale scrollTop (the list just got shorter) must still show the last rows, never an empty window.
  const first = Math.min(Math.floor(Math.max(0, p.scrollTop) / rowHeight), Math.max(0, count - inView));
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + inView + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}
