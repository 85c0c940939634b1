import { buildUrl } from "./http";

/**
 * The rollout's Server-Sent Events stream. The browser's EventSource reconnects by itself after a
 * network error; when the server refused the stream (readyState CLOSED) we reconnect with backoff.
 */
export type LiveState = "connecting" | "live" | "reconnecting";

/** Event names the server may use besides the default "message". */
export const EVENT_NAMES = ["message", "change", "task", "run", "rollout"] as const;

export interface LiveHandlers {
  onState: (state: LiveState) => void;
  /** A change arrived; `data` is the parsed JSON payload (or the raw string). */
  onEvent: (data: unknown, name: string) => void;
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
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (ev) => {
        const raw = (ev as MessageEvent<string>).data;
        let data: unknown = raw;
        try {
          data = JSON.parse(raw);
        } catch {
          // not JSON: hand the raw text on
        }
        handlers.onEvent(data, name);
      });
    }
  };

  handlers.onState("connecting");
  connect();
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    source?.close();
  };
}
