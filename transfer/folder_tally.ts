/**
 * The running total of a folder transfer (`upload_directory.ts`, `download_directory.ts`): the
 * files moved and skipped and their bytes, and the options each file of the folder is moved
 * with.
 *
 * @module
 */

import type { FileTransferOptions, TransferResult } from "./file_transfer_options.ts";

/**
 * Adds up the files of one folder transfer.
 *
 * @example Two files moved, one skipped
 * ```ts
 * import { FolderTally } from "./folder_tally.ts";
 * import assert from "node:assert/strict";
 *
 * const tally = new FolderTally({ sync: true });
 * tally.moved({ files: 1, skipped: 0, bytes: 5, resumedBytes: 0 });
 * tally.moved({ files: 1, skipped: 0, bytes: 3, resumedBytes: 2 });
 * tally.skipped();
 * assert.deepEqual(tally.result, { files: 2, skipped: 1, bytes: 8, resumedBytes: 2 });
 * assert.equal(tally.fileOptions.overwrite, true);
 * ```
 */
export class FolderTally {
  /** The total so far. */
  readonly result: TransferResult = { files: 0, skipped: 0, bytes: 0, resumedBytes: 0 };
  /** What each file is moved with: the folder's options; a sync replaces what differs. */
  readonly fileOptions: FileTransferOptions;

  /** @param options The folder transfer's options. */
  constructor(options: FileTransferOptions) {
    this.fileOptions = {
      ...options,
      overwrite: options.overwrite === true || options.sync === true,
    };
  }

  /** Counts one file that already matched. */
  skipped(): void {
    this.result.skipped++;
  }

  /** Counts one file moved. */
  moved(one: TransferResult): void {
    this.result.files++;
    this.result.bytes += one.bytes;
    this.result.resumedBytes += one.resumedBytes;
  }
}
