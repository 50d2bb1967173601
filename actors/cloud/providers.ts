/** The providers built into bosun, by name (out-of-tree ones would register the same way). */
import { LOCAL_PROVIDER_NAME, localCloudProvider } from "./local/local-provider.ts";
import { CloudProviderRegistry } from "./provider-registry.ts";

export function builtInCloudProviders(): CloudProviderRegistry {
  const registry = new CloudProviderRegistry();
  registry.register(LOCAL_PROVIDER_NAME, localCloudProvider);
  return registry;
}
