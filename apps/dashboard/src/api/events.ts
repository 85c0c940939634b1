import { buildUrl } from "./http";
import type { ChangeEvent } from "./types";

/**
 * The rollout's Server-Sent Events stream. The browser's EventSource reconnects by itself after a
 * network error; when the server refused the stream (readyState CLOSED) we reconnect with backoff.
 */
export type LiveState = "connecting" | "live" | "reconnecting";

export interface LiveHandlers {
  onState: (state: LiveState) => void;
  /** The server's `change` event: a rollout changed (its `ready` event is the stream opening). */
  onEvent: (event: ChangeEvent) => void;
  /** The stream (re)opened after a gap: events may have been missed. */
  onResync: () => void;
}

export interface LiveOptions {
  /** Backoff for reconnects after the server closed the stream. */
  minDelayMs?: number;
  maxDelayMs?: number;
  EventSourceImpl?: typeof EventSource;
}

export function openRolloutEvents(rolloutId: string, handlers: LiveHandlers, options: LiveOptions = {}): () => void {
  const Impl = options.EventSourceImpl ?? globalThis.EventSource;
  const minDelay = options.minDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const url = buildUrl("/events", { rolloutId });
  let source: EventSource | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = minDelay;
  let hadGap = false;
  let closed = false;

  const connect = () => {
    if (closed) return;
    const es = new Impl(url, { withCredentials: true });
    source = es;
    es.onopen = () => {
      delay = minDelay;
      handlers.onState("live");
      if (hadGap) handlers.onResync();
      hadGap = false;
    };
    es.onerror = () => {
      if (closed) return;
      hadGap = true;
      handlers.onState("reconnecting");
      if (es.readyState === Impl.CLOSED) {
        es.close();
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    };
    es.addEventListener("change", (ev) => handlers.onEvent(JSON.parse((ev as MessageEvent<string>).data) as ChangeEvent));
  };

  handlers.onState("connecting");
  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    source?.close();
  };
}
