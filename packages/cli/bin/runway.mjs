#!/usr/bin/env node
/* global process */
// The CLI is TypeScript run by tsx, like the server: no build step in the workspace.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/main.ts");
process.exitCode = await main(process.argv);
