/**
 * Runs `fn` once the browser has painted the next frame (a frame callback, then a task after it), so work
 * that nobody sees at once does not delay what they do see. Returns a cancel function.
 */
export function afterNextPaint(fn: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const raf = globalThis.requestAnimationFrame;
  if (!raf) {
    timer = setTimeout(fn, 0);
    return () => clearTimeout(timer);
  }
  const frame = raf(() => (timer = setTimeout(fn, 0)));
  return () => {
    globalThis.cancelAnimationFrame?.(frame);
    clearTimeout(timer);
  };
}
