import { arch } from 'node:os';
import { FsRoot } from '../device/fsroot.js';
import { probeCpu } from '../device/cpu.js';
import { serveIsolated } from '../util/isolated-main.js';
import { deviceWeightForm, type DeviceFormRequest } from './weight-form.js';

// Runs in a child process (runIsolated, src/catalog/weight-form-isolated.ts): the sessions of three forms of a
// model and their timing never stay in the daemon, and a form the runtime crashes on cannot take it down.
serveIsolated(async (r: DeviceFormRequest) => {
  const cpu = await probeCpu(new FsRoot('/'), arch());
  return deviceWeightForm(r, cpu.int8.exact);
}, 'E_WEIGHT_FORM');
