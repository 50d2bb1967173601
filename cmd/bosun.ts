import { Command } from "commander";
import { certsCommand } from "./certs.ts";
import { chaosCommand } from "./chaos.ts";
import { cloudCommand } from "./cloud.ts";
import { hollowNodesCommand } from "./hollow-nodes.ts";
import { inspectCommand } from "./inspect.ts";
import { kubeconfigCommand } from "./kubeconfig.ts";
import { kvCommand } from "./kv.ts";
import { memberCommand } from "./member.ts";
import { nodeCommand } from "./node/command.ts";
import { schedulerCommand } from "./scheduler.ts";
import { secretsCommand } from "./secrets.ts";
import { statusCommand } from "./status.ts";
import { uiCommand } from "./ui.ts";
import { downCommand, upCommand } from "./up.ts";

const program = new Command("bosun")
  .description("a Kubernetes-style control plane of xstate actors on a Raft-replicated store")
  .version("0.1.0")
  .showHelpAfterError();

program.addCommand(upCommand());
program.addCommand(downCommand());
program.addCommand(nodeCommand());
program.addCommand(statusCommand());
program.addCommand(inspectCommand());
program.addCommand(uiCommand());
program.addCommand(kvCommand());
program.addCommand(memberCommand());
program.addCommand(chaosCommand());
program.addCommand(hollowNodesCommand());
program.addCommand(schedulerCommand());
program.addCommand(cloudCommand());
program.addCommand(kubeconfigCommand());
program.addCommand(secretsCommand());
program.addCommand(certsCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`bosun: ${(error as Error).message}`);
  process.exit(1);
}
