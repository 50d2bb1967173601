/**
 * Cloud providers by name (cloud-provider's `RegisterCloudProvider` / `InitCloudProvider`): a
 * provider registers a factory under its name; the cloud controller manager builds the one its
 * `--cloud-config` names. Configuration stays outside the code: the factory gets the parsed
 * config file.
 */
import type { JsonObject } from "../api/json.ts";
import type { CloudProvider } from "./cloud-provider.ts";

export type CloudProviderFactory = (config: JsonObject) => CloudProvider;

export class CloudProviderRegistry {
  private readonly factories = new Map<string, CloudProviderFactory>();

  register(name: string, factory: CloudProviderFactory): void {
    if (this.factories.has(name)) throw new Error(`cloud provider ${name} registered twice`);
    this.factories.set(name, factory);
  }

  names(): string[] {
    return [...this.factories.keys()].sort();
  }

  /** The provider `name` built from `config`; an unknown name is an error naming the known ones. */
  build(name: string, config: JsonObject): CloudProvider {
    const factory = this.factories.get(name);
    if (factory === undefined)
      throw new Error(
        `unknown cloud provider ${JSON.stringify(name)} (known: ${this.names().join(", ")})`,
      );
    return factory(config);
  }
}
