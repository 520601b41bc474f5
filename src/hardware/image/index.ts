/** Image-writing building blocks, exported through the public contract for managers to compose. */
export { imageInfoSchema, validateImageInfo, isHttpUrl } from './image-info.js';
export type { ImageInfo } from './image-info.js';
export { resolveExpectedChecksum, parseChecksumFile, createImageHash, isKnownHashAlgorithm } from './checksum.js';
export type { ExpectedChecksum, ResolveChecksumOptions } from './checksum.js';
export { ImageHttpClient, TransientDownloadError, FatalDownloadError, redact as redactUrl } from './http-source.js';
export type { OpenedBody } from './http-source.js';
export { downloadImage } from './download.js';
export type { ImageSink, DownloadOptions, DownloadResult } from './download.js';
export { BlockWriter } from './block-writer.js';
export { InlineHasher, WorkerHasher, createBlockHasher } from './block-hasher.js';
export type { BlockHasher } from './block-hasher.js';
export type { BlockWriterOptions } from './block-writer.js';
export { TransferProgress } from './transfer-progress.js';
export type { TransferSnapshot } from './transfer-progress.js';
export {
  readPartitionTable,
  rescanPartitions,
  waitForPartitionNodes,
  moveGptBackupToEnd,
  gptBackupAtEnd,
  diskIdentifier,
  wipeDiskSignatures,
  probeFilesystemAt,
  findPartitionByUuid,
  isEfiSystemPartition,
  isPrepBootPartition,
  isBiosBootPartition,
  ESP_GPT_TYPE,
} from './disk-layout.js';
export type { PartitionEntry, PartitionTable } from './disk-layout.js';
export {
  detectFormat,
  qcow2VirtualSize,
  qemuImgInfo,
  assertSafeQemuImage,
  imageAtOffsetSpec,
  convertToDevice,
  PERMITTED_FORMATS,
  FORMAT_PROBE_BYTES,
} from './image-format.js';
export type { DetectedFormat, QemuImageInfo, ConvertOptions } from './image-format.js';
export { loadConfigDrive, writeConfigDrive, MAX_CONFIG_DRIVE_BYTES } from './configdrive.js';
export type { ConfigDrivePlacement } from './configdrive.js';
export {
  bootedInUefi,
  findEfiSystemPartition,
  findEfiLoaders,
  chooseLoaders,
  parseBootCsv,
  registerBootEntries,
  parseBootRecords,
} from './uefi-boot.js';
export type { EfiLoader, UefiBootResult, BootRecord } from './uefi-boot.js';
