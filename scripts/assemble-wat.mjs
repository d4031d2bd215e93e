// One .wat text -> WebAssembly bytes, with wabt (a dev dependency), SIMD on. Shared by
// scripts/build-wasm.mjs and the test that checks the shipped bytes.
import wabtInit from 'wabt';

export async function assembleWat(text, name) {
  const wabt = await wabtInit();
  const mod = wabt.parseWat(name, text, { simd: true });
  try {
    mod.validate();
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}
