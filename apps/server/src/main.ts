import { main } from "./cli.js";

/** Process entry from the sources (`tsx src/main.ts`); the built server's entry is boot.ts (build.mjs). */
main();
