/** `$(VAR)` expansion in command and args, per Kubernetes' expansion package's cases. */
import { expect, it } from "vitest";
import { expandEnvReferences } from "../../../actors/kubelet/env-expansion.ts";

const env = { VAR_A: "A", VAR_B: "B", HOST: "127.96.0.1" };

it.each([
  ["$(VAR_A)", "A"],
  ["___$(VAR_B)___", "___B___"],
  ["http://$(HOST):80/", "http://127.96.0.1:80/"],
  ["$(VAR_A)-$(VAR_B)", "A-B"],
  ["$(UNKNOWN)", "$(UNKNOWN)"],
  ["$$(VAR_A)", "$(VAR_A)"],
  ["$$$(VAR_A)", "$A"],
  ["$VAR_A", "$VAR_A"],
  ["$(VAR_A", "$(VAR_A"],
  ["trailing $", "trailing $"],
])("%s → %s", (input, expected) => {
  expect(expandEnvReferences(input, env)).toBe(expected);
});
