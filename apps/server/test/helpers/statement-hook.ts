import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";

/**
 * A plugin that runs `hook` once, after the first statement whose query tree (as JSON) matches `pattern`
 * returned and before its caller sees the result: to act at an exact point of a pass (a cancel right after
 * its read, a stall of its session).
 */
export function afterStatement(pattern: RegExp, hook: () => Promise<void>): KyselyPlugin {
  let fired = false;
  return afterEvery(pattern, async () => {
    if (fired) return;
    fired = true;
    await hook();
  });
}

/** Calls `hook` with the statement's tree (as JSON) after every statement that matches `pattern`, before its caller sees the result. */
export function afterEvery(pattern: RegExp, hook: (json: string) => Promise<void>): KyselyPlugin {
  const matched = new WeakMap<object, string>();
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const json = JSON.stringify(args.node);
      if (pattern.test(json)) matched.set(args.queryId, json);
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const json = matched.get(args.queryId);
      if (json !== undefined) await hook(json);
      return args.result;
    },
  };
}
