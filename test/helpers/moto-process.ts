// Tests and benchmarks use the same launcher as `setup --sandbox`.
export { startMoto, type Moto } from '../../src/sandbox/moto.js';
