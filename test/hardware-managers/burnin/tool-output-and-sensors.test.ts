// What the burn-in reads from its tools and the kernel: stress-ng's metrics lines, fio's
// periodic JSON among other lines, and hwmon temperatures from a sysfs tree.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FioJsonStream } from '../../../hardware-managers/burnin/fio-json.js';
import { parseDispatchedWorkers, parseStressNgMetrics } from '../../../hardware-managers/burnin/stress.js';
import { toolFailure } from '../../../hardware-managers/burnin/report.js';
import { readTemperatures } from '../../../hardware-managers/burnin/temperatures.js';
import { ExecError } from '../../../src/hardware/index.js';

describe('stress-ng output', () => {
  it('reads the metrics line of 0.15+ ("metrc:") and of older versions ("info:")', () => {
    expect(
      parseStressNgMetrics(
        'stress-ng: metrc: [30173] cpu                 824      2.00      0.55      0.00       412.77        1493.00',
      ),
    ).toEqual({
      stressor: 'cpu',
      bogoOps: 824,
      realTimeSeconds: 2,
      userTimeSeconds: 0.55,
      systemTimeSeconds: 0,
      bogoOpsPerSecondRealTime: 412.77,
      bogoOpsPerSecondCpuTime: 1493,
    });
    expect(
      parseStressNgMetrics(
        'stress-ng: info:  [4242] vm               18580     10.02      9.10      0.90      1854.29        1858.00',
      )?.bogoOps,
    ).toBe(18580);
    // The header lines are not figures.
    expect(
      parseStressNgMetrics(
        'stress-ng: metrc: [30173] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s',
      ),
    ).toBeUndefined();
  });

  it('reads how many workers were started', () => {
    expect(parseDispatchedWorkers('stress-ng: info:  [31615] dispatching hogs: 2 vm')).toEqual({ vm: 2 });
    expect(parseDispatchedWorkers('stress-ng: info:  [1] dispatching hogs: 4 cpu, 1 vm')).toEqual({ cpu: 4, vm: 1 });
  });
});

describe('tool failures', () => {
  it('name the missing program, not its whole command line', () => {
    const missing = toolFailure(
      'stress-ng (cpu)',
      new ExecError({ command: 'stress-ng --cpu 0 --timeout 5', reason: 'not-found' }),
    );
    expect(missing.details).toBe('stress-ng (cpu) failed: stress-ng is not installed in this ramdisk');
    const exited = toolFailure(
      'fio (disk)',
      new ExecError({ command: 'fio --name x', reason: 'exit', exitCode: 1, stderr: 'bad' }),
    );
    expect(exited.details).toBe('fio (disk) failed with error fio --name x exited with code 1: bad');
  });
});

describe('fio periodic JSON', () => {
  const doc = (bytes: number) =>
    JSON.stringify(
      {
        'fio version': 'fio-3.33',
        jobs: [
          {
            jobname: '/dev/loop0',
            error: 0,
            total_err: 0,
            read: { io_bytes: bytes, bw: 1024 },
            write: { io_bytes: bytes, bw: 2048 },
          },
        ],
      },
      null,
      2,
    );

  it('yields each whole document and skips the lines between them', () => {
    const seen: number[] = [];
    const stream = new FioJsonStream((d) => seen.push(d.jobs[0]!.read.io_bytes));
    for (const line of ['fio: waiting for connection', ...doc(1).split('\n'), 'noise', ...doc(2).split('\n')]) stream.push(line);
    expect(seen).toEqual([1, 2]);
    expect(stream.last?.jobs[0]?.write.bw).toBe(2048);
  });

  it('keeps the last whole document when fio is killed mid-print', () => {
    const stream = new FioJsonStream();
    for (const line of doc(5).split('\n')) stream.push(line);
    for (const line of doc(6).split('\n').slice(0, 5)) stream.push(line);
    stream.push('}');
    expect(stream.last?.jobs[0]?.read.io_bytes).toBe(5);
  });
});

describe('temperatures', () => {
  const root = mkdtempSync(join(tmpdir(), 'ramdisk-agent-sysfs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads hwmon sensors with their labels and the disk they belong to', async () => {
    const hwmon = join(root, 'class', 'hwmon');
    const cpu = join(hwmon, 'hwmon0');
    mkdirSync(cpu, { recursive: true });
    writeFileSync(join(cpu, 'name'), 'coretemp\n');
    writeFileSync(join(cpu, 'temp1_input'), '45000\n');
    writeFileSync(join(cpu, 'temp1_label'), 'Package id 0\n');
    const nvmeDevice = join(root, 'devices', 'pci0000:00', '0000:00:04.0', 'nvme', 'nvme0');
    mkdirSync(nvmeDevice, { recursive: true });
    const nvme = join(hwmon, 'hwmon1');
    mkdirSync(nvme);
    writeFileSync(join(nvme, 'name'), 'nvme\n');
    writeFileSync(join(nvme, 'temp1_input'), '38850\n');
    writeFileSync(join(nvme, 'temp1_label'), 'Composite\n');
    symlinkSync(nvmeDevice, join(nvme, 'device'));
    expect(await readTemperatures(root)).toEqual([
      { sensor: 'coretemp/Package id 0', device: null, celsius: 45 },
      { sensor: 'nvme/Composite', device: 'nvme0', celsius: 38.9 },
    ]);
  });

  it('is empty on a machine without sensors', async () => {
    expect(await readTemperatures(join(root, 'nothing-here'))).toEqual([]);
  });
});
