import assert from 'node:assert/strict';
import { parseVulkanSummary, pickVulkanDevice } from '../../src/pipelines/gpu-adapters.js';

// The shape of `vulkaninfo --summary` (vulkan-tools 1.3.239): a GPU machine's NVIDIA device listed after lavapipe.
const summary = `==========
VULKANINFO
==========

Devices:
========
GPU0:
	apiVersion         = 1.4.305
	vendorID           = 0x10005
	deviceType         = PHYSICAL_DEVICE_TYPE_CPU
	deviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
	driverInfo         = Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)
GPU1:
	apiVersion         = 1.3.277
	vendorID           = 0x10de
	deviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
	deviceName         = NVIDIA H200
	driverInfo         = 550.54.15
`;

describe('causeway doctor: naming the WebGPU adapter', () => {
  it('reads every device from vulkaninfo --summary and picks the one a high-performance request gets', () => {
    const devices = parseVulkanSummary(summary);
    assert.deepEqual(devices, [
      { name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'cpu', driver: 'Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)' },
      { name: 'NVIDIA H200', type: 'discrete', driver: '550.54.15' },
    ]);
    assert.equal(pickVulkanDevice(devices)!.name, 'NVIDIA H200');
    assert.equal(pickVulkanDevice(devices.slice(0, 1))!.name, 'llvmpipe (LLVM 15.0.6, 256 bits)');
    assert.equal(pickVulkanDevice([]), undefined);
    assert.deepEqual(parseVulkanSummary('no devices here\n'), []);
  });
});
