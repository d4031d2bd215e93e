/**
 * Which device a provider runs on, named for `causeway doctor`. onnxruntime-node does not say:
 * its WebGPU EP (Dawn) picks a Vulkan device itself and exposes no adapter info, so the name is
 * read from `vulkaninfo --summary` (Debian's vulkan-tools, installed by scripts/setup.sh) and
 * the device picked the way Dawn's high-performance request does: discrete before integrated
 * before virtual before a CPU rasteriser (lavapipe). CUDA's device is what `nvidia-smi` lists
 * first (device 0, the one the EP uses by default).
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

export interface VulkanDevice {
  name: string;
  /** discrete | integrated | virtual | cpu | other */
  type: string;
  driver?: string;
}

const preference = ['discrete', 'integrated', 'virtual', 'cpu', 'other'];

/** The devices in `vulkaninfo --summary` output, in its order. */
export function parseVulkanSummary(text: string): VulkanDevice[] {
  const devices: VulkanDevice[] = [];
  let current: Partial<VulkanDevice> | undefined;
  for (const line of text.split('\n')) {
    if (/^GPU\d+:\s*$/.test(line.trim())) {
      current = {};
      devices.push(current as VulkanDevice);
      continue;
    }
    const m = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!current || !m) continue;
    if (m[1] === 'deviceName') current.name = m[2];
    else if (m[1] === 'driverInfo') current.driver = m[2];
    else if (m[1] === 'deviceType') {
      const t = m[2].replace(/^PHYSICAL_DEVICE_TYPE_/, '').toLowerCase();
      current.type = t === 'discrete_gpu' ? 'discrete' : t === 'integrated_gpu' ? 'integrated' : t === 'virtual_gpu' ? 'virtual' : t === 'cpu' ? 'cpu' : 'other';
    }
  }
  return devices.filter((d) => d.name !== undefined).map((d) => ({ ...d, type: d.type ?? 'other' }));
}

/** The device a high-performance WebGPU request gets: the first of the most preferred type. */
export function pickVulkanDevice(devices: VulkanDevice[]): VulkanDevice | undefined {
  for (const type of preference) {
    const d = devices.find((x) => x.type === type);
    if (d) return d;
  }
  return undefined;
}

function run(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout : undefined;
}

/** The adapter's name and type, or why it cannot be named. */
export function webgpuAdapter(): { adapter?: string; adapterNote?: string } {
  const out = run('vulkaninfo', ['--summary']);
  if (out === undefined) return { adapterNote: 'vulkaninfo (Debian package vulkan-tools) is missing or failed, so the adapter cannot be named' };
  const d = pickVulkanDevice(parseVulkanSummary(out));
  if (!d) return { adapterNote: 'vulkaninfo lists no Vulkan device' };
  return { adapter: `${d.name} (${d.type}${d.driver ? `, ${d.driver}` : ''})` };
}

export function cudaAdapter(): { adapter?: string; adapterNote?: string } {
  // nvidia-smi numbers GPUs physically and ignores CUDA_VISIBLE_DEVICES; the EP's device 0 is its first entry.
  const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',')[0]?.trim();
  const out = run('nvidia-smi', [...(visible ? ['-i', visible] : []), '--query-gpu=name,memory.total', '--format=csv,noheader']);
  const first = out?.split('\n').find((l) => l.trim() !== '');
  return first ? { adapter: first.trim() } : { adapterNote: 'nvidia-smi is missing or lists no GPU' };
}

export function cpuAdapter(): { adapter?: string } {
  const c = cpus();
  return c.length > 0 ? { adapter: `${c[0].model.trim()} (${c.length} logical cores)` } : {};
}
