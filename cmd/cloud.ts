import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { instanceState } from "../actors/cloud/local/instance-process.ts";
import { LocalCloudState } from "../actors/cloud/local/local-cloud-state.ts";
import { defaultRunDir } from "./cluster-file.ts";
import { readCloudConfig } from "./node/cloud-role.ts";
import { table } from "./status.ts";
import { cloudConfigPath } from "./up.ts";

/** The local cloud of a run dir, as its provider sees it (its state directory). */
function localCloud(runDir: string): LocalCloudState {
  const path = cloudConfigPath(runDir);
  if (!existsSync(dirname(path)))
    throw new Error(
      `no local cloud in ${runDir} (${dirname(path)} not found): 'bosun up' makes one`,
    );
  const config = readCloudConfig(path);
  if (config.provider !== "local")
    throw new Error(`the cloud of ${runDir} is ${config.provider}; only the local one is shown`);
  return new LocalCloudState(String(config.settings.stateDir));
}

export function cloudCommand(): Command {
  const cloud = new Command("cloud").description(
    "the local cloud provider's view: load balancers, routes, instances",
  );
  const runDirOption = ["--run-dir <dir>", "the cluster's run dir", defaultRunDir()] as const;
  cloud
    .command("lbs")
    .description("load balancers: external IP, listeners → NodePorts, backends, health check")
    .option(...runDirOption)
    .option("--json", "the records as JSON", false)
    .action((options: { runDir: string; json: boolean }) => {
      const lbs = localCloud(options.runDir).loadBalancers();
      if (options.json) return console.log(JSON.stringify(lbs, null, 2));
      const rows = [["NAME", "SERVICE", "EXTERNAL-IP", "PORTS", "BACKENDS", "HEALTH-CHECK"]];
      for (const lb of lbs)
        rows.push([
          lb.name,
          lb.service,
          lb.ip,
          lb.ports.map((p) => `${p.port}:${p.nodePort}/${p.protocol}`).join(",") || "-",
          lb.backends.map((b) => `${b.node}=${b.address}`).join(",") || "<none>",
          lb.healthCheck.kind === "http" ? `http:${lb.healthCheck.port}` : "tcp:nodePort",
        ]);
      console.log(table(rows));
    });
  cloud
    .command("routes")
    .description("the route table: pod CIDR → node")
    .option(...runDirOption)
    .action((options: { runDir: string }) => {
      const rows = [["NAME", "CLUSTER", "DESTINATION", "TARGET-NODE"]];
      for (const r of localCloud(options.runDir).routes())
        rows.push([r.name, r.cluster, r.destinationCIDR, r.targetNode]);
      console.log(table(rows));
    });
  cloud
    .command("instances")
    .description("the instances (node processes): running or stopped")
    .option(...runDirOption)
    .action((options: { runDir: string }) => {
      const rows = [["ID", "ADDRESS", "PID", "STATE"]];
      for (const i of localCloud(options.runDir).instances())
        rows.push([i.id, i.address, String(i.pid), instanceState(i.pid, i.startTicks)]);
      console.log(table(rows));
    });
  cloud
    .command("terminate")
    .argument("<instance>", "the node name")
    .description("delete an instance from the cloud (its Node is then deleted once NotReady)")
    .option(...runDirOption)
    .action((id: string, options: { runDir: string }) => {
      const state = localCloud(options.runDir);
      if (state.instance(id) === null) throw new Error(`no instance ${id}`);
      state.deleteInstance(id);
      console.log(`instance ${id} terminated`);
    });
  return cloud;
}
