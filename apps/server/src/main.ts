import { loadConfig } from "./config.js";
import { startReplica } from "./replica.js";

/** Process entry (`pnpm start`): one replica with the production parts. */
startReplica(loadConfig()).catch((err) => {
  console.error(err);
  process.exit(1);
});
