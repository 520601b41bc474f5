/**
 * Temperatures a burn-in shows beside its progress, read from the kernel's hwmon sensors
 * (/sys/class/hwmon: coretemp/k10temp for CPUs, nvme and drivetemp for disks, board
 * sensors). Read in-process: sysfs files, no tool started. A machine without sensors
 * (most VMs) simply shows none.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface TemperatureReading {
  /** `<driver>/<label>`, e.g. `coretemp/Package id 0`, `nvme/Composite`. */
  sensor: string;
  /** The block device or PCI device the sensor belongs to, when sysfs links it. */
  device: string | null;
  celsius: number;
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

/** nvme hwmon hangs off /sys/class/nvme/nvme0; drivetemp off the SCSI disk: name them. */
async function owningDevice(hwmonDir: string): Promise<string | null> {
  const target = await realpath(join(hwmonDir, 'device')).catch(() => undefined);
  if (!target) return null;
  const blocks = await readdir(join(target, 'block')).catch(() => [] as string[]);
  if (blocks[0]) return blocks[0];
  const nvme = /\/(nvme\d+)(?:\/|$)/.exec(target);
  if (nvme?.[1]) return nvme[1];
  return basename(target);
}

export async function readTemperatures(sysRoot = '/sys'): Promise<TemperatureReading[]> {
  const base = join(sysRoot, 'class', 'hwmon');
  const entries = await readdir(base).catch(() => [] as string[]);
  const readings: TemperatureReading[] = [];
  for (const entry of entries.sort()) {
    const dir = join(base, entry);
    const files = await readdir(dir).catch(() => [] as string[]);
    const inputs = files.filter((f) => /^temp\d+_input$/.test(f)).sort();
    if (inputs.length === 0) continue;
    const driver = (await readText(join(dir, 'name'))) ?? entry;
    const device = await owningDevice(dir);
    for (const input of inputs) {
      const milli = Number(await readText(join(dir, input)));
      // A sensor that cannot be read returns an error or a nonsense value: leave it out.
      if (!Number.isFinite(milli) || milli <= -273_000 || milli === 0) continue;
      const label = (await readText(join(dir, input.replace('_input', '_label')))) ?? input.replace('_input', '');
      readings.push({ sensor: `${driver}/${label}`, device, celsius: Math.round(milli / 100) / 10 });
    }
  }
  return readings;
}
