import type { AgentkeysConfig } from '../config/load.js';
import { fetchSettingText } from '../sys/https.js';
import type { RegistryInput } from './registry.js';

/**
 * The verifier registry the settings name: an explicit file (--signers,
 * KERNEL_PUBLIC_KEYS_PATH, AGENTKEYS_SIGNERS) first, then KERNEL_PUBLIC_KEYS_JSON, then
 * KERNEL_PUBLIC_KEYS_URL (https, at most 1 MiB), then the default file. Writers (keys create,
 * rotate-key, setup) always write the file.
 */
export async function verifierRegistry(config: AgentkeysConfig): Promise<RegistryInput> {
  if (config.origins.signersPath) return config.signersPath;
  if (config.registryJson) return { text: config.registryJson, source: config.origins.registryJson! };
  if (config.registryUrl)
    return {
      text: await fetchSettingText(config.registryUrl, 'KERNEL_PUBLIC_KEYS_URL'),
      source: config.registryUrl,
    };
  return config.signersPath;
}
