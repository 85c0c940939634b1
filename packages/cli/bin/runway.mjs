#!/usr/bin/env node
/* global process */
// The CLI is TypeScript run by tsx, like the server: no build step in the workspace.
import { register } from "tsx/esm/api";

register();
// `runway … | head`: a reader that stops reading ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
const { main } = await import("../src/main.ts");
process.exitCode = await main(process.argv);
